"""/api/v1: message templates, one-off follow-ups, and the outbox (admins)."""
from __future__ import annotations

from crm.api import api_blueprint, api_user, require_role, transaction
from crm.api.paging import list_page, page_body
from crm.api.schemas import PageQuerySchema, page_schema
from crm.api.schemas.followups import (
    FollowUpCreateSchema,
    FollowUpQuerySchema,
    FollowUpSchema,
    OutboxMessageSchema,
    OutboxQuerySchema,
    RuleSchema,
    TemplateDetailSchema,
    TemplateSchema,
    TemplateWriteSchema,
)
from crm.domain import N_, NotFound
from crm.followups import services
from crm.types import utc_now

blp = api_blueprint("api_followups", __name__, url_prefix="/api/v1",
                    description="Follow-up emails: templates, one-off messages, the outbox")
FollowUpPageSchema = page_schema(FollowUpSchema, "FollowUpPage")
OutboxPageSchema = page_schema(OutboxMessageSchema, "OutboxPage")
TemplatePageSchema = page_schema(TemplateSchema, "TemplatePage")
RulePageSchema = page_schema(RuleSchema, "FollowUpRulePage")


def customer_message(message_id):
    """A message to a customer; staff alerts are not part of /followups."""
    message = services.get_message(message_id)
    if message.user_id is not None:
        raise NotFound(N_("no such message"))
    return message


@blp.get("/templates")
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, TemplatePageSchema)
def list_templates(args):
    """Every message template by code, with the languages it has words in."""
    return list_page(services.list_templates(), args)


@blp.get("/templates/<id:template_id>")
@require_role("admin")
@blp.response(200, TemplateDetailSchema)
def get_template(template_id):
    """One template with its subject and body in each language (admins)."""
    return services.get_template(template_id)


@blp.post("/templates")
@require_role("admin")
@blp.arguments(TemplateWriteSchema)
@blp.response(201, TemplateDetailSchema)
def create_template(data):
    """Add a message template (admins). Its texts are checked as they would run: an unknown
    variable, bad syntax or a survey template without `{{ survey_url }}` is refused with 422."""
    with transaction():
        template = services.save_template(api_user(), data, utc_now())
    return template


@blp.put("/templates/<id:template_id>")
@require_role("admin")
@blp.arguments(TemplateWriteSchema)
@blp.response(200, TemplateDetailSchema)
def update_template(data, template_id):
    """Replace a template (admins); also refused with 422 when a rule sending it could not
    fill a variable it now uses."""
    template = services.get_template(template_id)
    with transaction():
        services.save_template(api_user(), data, utc_now(), template)
    return template


@blp.get("/followup-rules")
@require_role("admin")
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, RulePageSchema)
def list_rules(args):
    """The rules that schedule follow-ups by themselves, oldest first (admins)."""
    return list_page(services.list_rules(), args)


@blp.post("/followup-rules")
@require_role("admin")
@blp.arguments(RuleSchema)
@blp.response(201, RuleSchema)
def create_rule(data):
    """Add a follow-up rule (admins). Refused with 422 when its template uses a variable the
    trigger cannot fill."""
    with transaction():
        rule = services.save_rule(api_user(), data, utc_now())
    return rule


@blp.put("/followup-rules/<id:rule_id>")
@require_role("admin")
@blp.arguments(RuleSchema)
@blp.response(200, RuleSchema)
def update_rule(data, rule_id):
    """Replace a follow-up rule (admins); what is left out takes its default."""
    rule = services.get_rule(rule_id)
    with transaction():
        services.save_rule(api_user(), data, utc_now(), rule)
    return rule


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


@blp.get("/outbox/<id:message_id>")
@require_role("admin")
@blp.response(200, OutboxMessageSchema)
def get_message(message_id):
    """One message with its delivery details (admins)."""
    return services.get_message(message_id)


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
