"""/api/v1/customers: search, create, read, edit, stage changes and history."""
from __future__ import annotations

from crm.api import api_blueprint, api_user
from crm.api.schemas import (
    CustomerCreateSchema,
    CustomerQuerySchema,
    CustomerSchema,
    CustomerUpdateSchema,
    StageChangeRequestSchema,
    StageChangeSchema,
    page_schema,
)
from crm.customers import services
from crm.extensions import db
from crm.types import utc_now

blp = api_blueprint("api_customers", __name__, url_prefix="/api/v1/customers",
                description="Customers and their lifecycle")
CustomerPageSchema = page_schema(CustomerSchema, "CustomerPage")


def page_body(page) -> dict:
    return {"items": page.items, "total": page.total, "page": page.page,
            "per_page": page.per_page, "pages": page.pages}


@blp.get("")
@blp.arguments(CustomerQuerySchema, location="query")
@blp.response(200, CustomerPageSchema)
def list_customers(args):
    """Search customers by name, email, phone or company; filter by stage, segment, owner."""
    from crm.customers.lifecycle import STAGES
    from crm.domain import Cleaner

    c = Cleaner()
    c.choice("stage", args["stage"], STAGES, required=False)
    c.text("q", args["q"], max_len=200)
    c.check()
    return page_body(services.search_customers(
        args["q"], stage=args["stage"], segment=args["segment"], owner_id=args["owner_id"],
        page=args["page"], per_page=args["per_page"]))


@blp.post("")
@blp.arguments(CustomerCreateSchema)
@blp.response(201, CustomerSchema)
def create_customer(data):
    """Create a customer; whoever creates it owns it unless `owner_id` says otherwise."""
    customer = services.create_customer(api_user(), data, utc_now())
    db.session.commit()
    return customer


@blp.get("/<id:customer_id>")
@blp.response(200, CustomerSchema)
def get_customer(customer_id):
    return services.get_customer(customer_id)


@blp.patch("/<id:customer_id>")
@blp.arguments(CustomerUpdateSchema)
@blp.response(200, CustomerSchema)
def update_customer(data, customer_id):
    """Change a customer's details; the stage changes through `/stage` only."""
    customer = services.get_customer(customer_id)
    services.update_customer(api_user(), customer, data, utc_now())
    db.session.commit()
    return customer


@blp.post("/<id:customer_id>/stage")
@blp.arguments(StageChangeRequestSchema)
@blp.response(201, StageChangeSchema)
def change_stage(data, customer_id):
    """Move the customer to another lifecycle stage; a reason is required."""
    customer = services.get_customer(customer_id)
    change = services.change_stage(api_user(), customer, data["stage"], data["reason"], utc_now())
    db.session.commit()
    return change


@blp.get("/<id:customer_id>/stages")
@blp.response(200, StageChangeSchema(many=True))
def stage_history(customer_id):
    """Every stage the customer went through, newest first."""
    return services.stage_history(services.get_customer(customer_id))
