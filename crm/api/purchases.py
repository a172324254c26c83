"""/api/v1/purchases: record what customers buy, and list it."""
from __future__ import annotations

from crm.api import api_blueprint, api_user, transaction
from crm.api.paging import page_body
from crm.api.schemas import page_schema
from crm.api.schemas.purchases import PurchaseCreateSchema, PurchaseQuerySchema, PurchaseSchema
from crm.customers import purchases as services
from crm.types import utc_now

blp = api_blueprint("api_purchases", __name__, url_prefix="/api/v1",
                    description="Purchases: the revenue each customer brings")
PurchasePageSchema = page_schema(PurchaseSchema, "PurchasePage")


@blp.get("/purchases")
@blp.arguments(PurchaseQuerySchema, location="query")
@blp.response(200, PurchasePageSchema)
def list_purchases(args):
    """Purchases, newest first; filter by customer and by days (`from`, `to`, both inclusive)."""
    return page_body(services.list_purchases(customer_id=args["customer_id"], since=args["since"],
                                             until=args["until"], page=args["page"], per_page=args["per_page"]))


@blp.post("/purchases")
@blp.arguments(PurchaseCreateSchema)
@blp.response(201, PurchaseSchema)
def record_purchase(data):
    """Record one purchase; it counts as the customer's activity on its day."""
    with transaction():
        purchase = services.record_purchase(api_user(), data, utc_now())
    return purchase
