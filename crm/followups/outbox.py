"""Writing messages to the outbox: one row per message, rendered, keyed by its cause.

Callers build `Draft`s inside their own transaction; `write` renders them in the
customer's language and inserts them with ON CONFLICT DO NOTHING on the key, so a
second planner, a retried request or a replayed event writes nothing new.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from babel import dates as babel_dates
from email_validator import EmailNotValidError, validate_email
from flask import current_app

from crm.customers.models import Customer
from crm.domain import N_
from crm.extensions import db
from crm.followups.models import MessageTemplate, OutboxMessage
from crm.followups.render import TemplateProblem, build_message, render_text, survey_url, unsubscribe_url
from crm.i18n import in_language, supported_language

SUBJECT_LIMIT = 300


@dataclass
class Draft:
    key: str
    customer: Customer
    template: MessageTemplate
    due_at: datetime
    # Values the trigger adds (a contact's date, a renewal date…); callables are
    # evaluated in the customer's language.
    variables: dict = field(default_factory=dict)
    rule_id: int | None = None
    moment_id: int | None = None
    compensation_id: int | None = None
    created_by_id: int | None = None


def refusal(customer: Customer, template: MessageTemplate) -> str | None:
    """Why this customer may not get this template (a gettext id), or None."""
    if not customer.email:
        return N_("the customer has no email address")
    if not deliverable_syntax(customer.email):
        # Imported or legacy data may hold what no mail server would accept.
        return N_("the customer's email address is not valid")
    if template.kind == "marketing":
        if customer.unsubscribed_at is not None:
            return N_("the customer has unsubscribed from marketing email")
        if not customer.marketing_consent:
            return N_("the customer has not agreed to marketing email")
    return None


def deliverable_syntax(address: str) -> bool:
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def language_of(customer: Customer | None) -> str:
    return supported_language(getattr(customer, "language", None))


def _display(value, language: str) -> str:
    if callable(value):
        value = value()
    zone = current_app.config["BABEL_DEFAULT_TIMEZONE"]
    if isinstance(value, datetime):
        value = value.astimezone(babel_dates.get_timezone(zone)).date()
    if isinstance(value, date):
        return babel_dates.format_date(value, "long", locale=language)
    return "" if value is None else str(value)


def first_name(name: str) -> str:
    return (name or "").strip().split(" ")[0]


def prepare(draft: Draft, now: datetime) -> dict:
    """The outbox row for a draft; raises TemplateProblem when the template cannot render."""
    customer, template = draft.customer, draft.template
    language = language_of(customer)
    words = template.text_for(language) or template.text_for("es") or template.text_for("en")
    if words is None:
        raise TemplateProblem(N_("the template has no text in any language"))
    config = current_app.config
    survey = survey_url(draft.key) if template.survey else None
    unsubscribe = unsubscribe_url(customer.id) if template.kind == "marketing" else None
    with in_language(language):
        context = {
            "customer_name": customer.name,
            "first_name": first_name(customer.name),
            "company_name": config["CRM_COMPANY_NAME"],
            "agent_name": customer.owner.name if customer.owner else config["CRM_COMPANY_NAME"],
        }
        context.update({name: _display(value, language) for name, value in draft.variables.items()})
        if survey:
            context["survey_url"] = survey
        if unsubscribe:
            context["unsubscribe_url"] = unsubscribe
        # A subject is one line: a variable holding a line break must not add headers.
        subject = re.sub(r"\s*[\r\n]+\s*", " ", render_text(words.subject, context)).strip()[:SUBJECT_LIMIT]
        body = render_text(words.body, context)
    rendered = build_message(key=draft.key, to_address=customer.email, to_name=customer.name,
                             language=language, subject=subject, body=body,
                             marketing=template.kind == "marketing", unsubscribe=unsubscribe, survey=survey)
    return {
        "idempotency_key": draft.key, "customer_id": customer.id, "template_id": template.id,
        "rule_id": draft.rule_id, "created_by_id": draft.created_by_id, "moment_id": draft.moment_id,
        "compensation_id": draft.compensation_id, "kind": template.kind, "survey": template.survey,
        "to_address": customer.email, "language": language, "subject": subject,
        "message": rendered.message, "due_at": draft.due_at, "status": "pending", "attempts": 0,
        "created_at": now,
    }


def insert_rows(rows: list[dict]) -> list[int]:
    """Insert in one statement; rows whose key is already there are skipped.
    Returns the ids really inserted."""
    if not rows:
        return []
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert
    table = OutboxMessage.__table__
    statement = upsert(table).on_conflict_do_nothing(index_elements=["idempotency_key"]).returning(table.c.id)
    return [row[0] for row in db.session.connection().execute(statement, rows)]


def write(drafts: Iterable[Draft], now: datetime,
          on_problem: Callable[[Draft, TemplateProblem], None] | None = None) -> list[int]:
    """Render and insert drafts. A draft whose template cannot render is reported to
    `on_problem` and skipped (or raises, without `on_problem`)."""
    rows = []
    for draft in drafts:
        try:
            rows.append(prepare(draft, now))
        except TemplateProblem as problem:
            if on_problem is None:
                raise
            on_problem(draft, problem)
    return insert_rows(rows)
