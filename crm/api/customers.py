"""/api/v1/customers: search, create, read, edit, stage changes and history."""
from __future__ import annotations

from marshmallow import Schema, fields

from crm.api import api_blueprint, api_user
from crm.api.paging import list_page, page_body
from crm.api.schemas import PageQuerySchema, page_schema
from crm.api.schemas.customers import (
    CustomerCreateSchema,
    CustomerQuerySchema,
    CustomerSchema,
    CustomerUpdateSchema,
    StageChangeRequestSchema,
    StageChangeSchema,
)
from crm.api.schemas.moments import CommitmentSchema, MomentSchema, SurveyResponseSchema
from crm.customers import services
from crm.extensions import db
from crm.types import utc_now

blp = api_blueprint("api_customers", __name__, url_prefix="/api/v1/customers",
                description="Customers and their lifecycle")
CustomerPageSchema = page_schema(CustomerSchema, "CustomerPage")
StageChangePageSchema = page_schema(StageChangeSchema, "StageChangePage")
# The timeline's kinds of entry, and the field and instant each answers with.
TIMELINE_KINDS = {"moment": ("moment", "occurred_at"), "stage": ("stage_change", "at"),
                  "met": ("commitment", "met_at"), "survey": ("survey_answer", "answered_at")}


class TimelineEntrySchema(Schema):
    """One entry of the customer's history; the field named by `kind` holds it, the others are null."""

    kind = fields.String(metadata={"enum": [name for name, _ in TIMELINE_KINDS.values()],
                                   "description": "moment: a contact; stage_change; commitment: one met; "
                                                  "survey_answer"})
    at = fields.AwareDateTime()
    moment = fields.Nested(MomentSchema, allow_none=True)
    stage_change = fields.Nested(StageChangeSchema, allow_none=True)
    commitment = fields.Nested(CommitmentSchema, allow_none=True)
    survey_answer = fields.Nested(SurveyResponseSchema, allow_none=True)


def _timeline_entry(kind: str, row) -> dict:
    name, instant = TIMELINE_KINDS[kind]
    entry = dict.fromkeys(name for name, _ in TIMELINE_KINDS.values())
    entry.update(kind=name, at=getattr(row, instant))
    entry[name] = row
    return entry


TimelinePageSchema = page_schema(TimelineEntrySchema, "TimelinePage")


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
    """One customer: details, lifecycle stage, loyalty, service tier, owner, consent."""
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
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, StageChangePageSchema)
def stage_history(args, customer_id):
    """Every stage the customer went through, newest first."""
    return list_page(services.stage_history(services.get_customer(customer_id)), args)


@blp.get("/<id:customer_id>/timeline")
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, TimelinePageSchema)
def timeline(args, customer_id):
    """The customer page's history, newest first: contacts (with their commitments), stage
    changes, commitments met and survey answers. Not counted: `total` and `pages` are null,
    `has_next` says whether there is more. The customer's other lists: `/commitments`,
    `/followups`, `/purchases` and `/compensations`, each with `?customer_id=`."""
    page = services.timeline(services.get_customer(customer_id), args["page"], args["per_page"])
    page.items = [_timeline_entry(kind, row) for kind, row in page.items]
    return page_body(page)
