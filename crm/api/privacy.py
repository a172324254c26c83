"""/api/v1 endpoints of crm.privacy: everything held about a customer, and erasure."""
from __future__ import annotations

from marshmallow import Schema, fields

from crm.api import api_blueprint, api_user, require_role, transaction
from crm.customers.services import get_customer
from crm.extensions import db
from crm.privacy import services
from crm.types import utc_now

blp = api_blueprint("api_privacy", __name__, url_prefix="/api/v1",
                    description="A customer's data rights: access to everything held, erasure")


class EraseRequestSchema(Schema):
    reason = fields.String(required=True)


class ErasureSchema(Schema):
    customer_id = fields.Integer(required=True)
    erased_at = fields.DateTime(required=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)


@blp.get("/customers/<id:customer_id>/data")
@require_role("supervisor")
@blp.response(200)
def customer_data(customer_id):
    """One JSON document with everything held about the customer (supervisors); the read is audited."""
    customer = get_customer(customer_id)
    now = utc_now()
    document = services.export_customer_data(api_user(), customer, now, via="api")
    db.session.commit()
    return document


@blp.post("/customers/<id:customer_id>/erase")
@require_role("admin")
@blp.arguments(EraseRequestSchema)
@blp.response(200, ErasureSchema)
def erase_customer(data, customer_id):
    """Erase the customer's personal data (admins); a reason is required. Figures and costs stay;
    a customer erased already answers 409."""
    customer = get_customer(customer_id)
    with transaction():
        counts = services.erase_customer(api_user(), customer, data["reason"], utc_now())
    return {"customer_id": customer_id, "erased_at": customer.erased_at, "counts": counts}
