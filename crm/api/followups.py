"""/api/v1: message templates, one-off follow-ups, and the outbox (admins)."""
from __future__ import annotations

from contextlib import contextmanager

from crm.api import api_blueprint, api_user, require_role
from crm.api.customers import page_body
from crm.api.schemas import (
    FollowUpCreateSchema,
    FollowUpQuerySchema,
    FollowUpSchema,
    OutboxMessageSchema,
    OutboxQuerySchema,
    TemplateSchema,
    page_schema,
)
from crm.domain import N_, DomainError, NotFound
from crm.extensions import db
from crm.followups import services
from crm.types import utc_now

blp = api_blueprint("api_followups", __name__, url_prefix="/api/v1",
                    description="Follow-up emails: templates, one-off messages, the outbox")
FollowUpPageSchema = page_schema(FollowUpSchema, "FollowUpPage")
OutboxPageSchema = page_schema(OutboxMessageSchema, "OutboxPage")


@contextmanager
def transaction():
    """The request's one transaction: committed when the service succeeds, rolled back
    when it refuses, so a refused request leaves nothing behind."""
    try:
        yield
    except DomainError:
        db.session.rollback()
        raise
    db.session.commit()


def customer_message(message_id):
    """A message to a customer; staff alerts are not part of /followups."""
    message = services.get_message(message_id)
    if message.user_id is not None:
        raise NotFound(N_("no such message"))
    return message


@blp.get("/templates")
@blp.response(200, TemplateSchema(many=True))
def list_templates():
    """Every message template, with the languages it has words in."""
    return services.list_templates()


@blp.get("/followups")
@blp.arguments(FollowUpQuerySchema, location="query")
@blp.response(200, FollowUpPageSchema)
def list_followups(args):
    """Messages to customers, latest due first; filter by customer and status."""
    return page_body(services.list_messages(customer_id=args["customer_id"], status=args["status"],
                                            page=args["page"], per_page=args["per_page"]))


@blp.post("/followups")
@blp.arguments(FollowUpCreateSchema)
@blp.response(201, FollowUpSchema)
def schedule_followup(data):
    """Schedule one message for one customer from a template, now or at `due_at`."""
    with transaction():
        message = services.schedule_followup(api_user(), data, utc_now())
    return message


@blp.post("/followups/<id:message_id>/cancel")
@blp.response(200, FollowUpSchema)
def cancel_followup(message_id):
    """Stop a message to a customer that has not been sent yet."""
    with transaction():
        message = services.cancel_message(api_user(), customer_message(message_id), utc_now())
    return message


@blp.get("/outbox")
@require_role("admin")
@blp.arguments(OutboxQuerySchema, location="query")
@blp.response(200, OutboxPageSchema)
def list_outbox(args):
    """Every message, staff alerts included, with delivery details (admins)."""
    return page_body(services.list_messages(status=args["status"], page=args["page"],
                                            per_page=args["per_page"], staff_alerts=True))


@blp.post("/outbox/<id:message_id>/retry")
@require_role("admin")
@blp.response(200, OutboxMessageSchema)
def retry_message(message_id):
    """Send a failed message again now, with a fresh count of attempts (admins)."""
    with transaction():
        message = services.retry_message(api_user(), services.get_message(message_id), utc_now())
    return message


@blp.post("/outbox/<id:message_id>/cancel")
@require_role("admin")
@blp.response(200, OutboxMessageSchema)
def cancel_message(message_id):
    """Stop any message that has not been sent yet, staff alerts included (admins)."""
    with transaction():
        message = services.cancel_message(api_user(), services.get_message(message_id), utc_now())
    return message
