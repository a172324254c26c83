"""A customer's data rights: everything held about them (access request) and erasure.

Erasure keeps the customer's row and every number about them (stages and their instants,
contacts with their types, costs and emotions, commitments, compensations, purchases),
so reports and costs stay what they were; it removes what identifies the person or was
written about them in words. Services flush and never commit.
"""
from __future__ import annotations

import email
import email.policy
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import and_, case, literal, or_, select, update

from crm import audit
from crm.audit import AuditEvent
from crm.auth.models import User
from crm.compensations.models import Compensation
from crm.customers import search, search_index
from crm.customers.models import Customer, Purchase, StageChange
from crm.domain import N_, Cleaner, Conflict, Forbidden
from crm.extensions import db
from crm.followups.models import MessageTemplate, OutboxMessage, SurveyResponse
from crm.followups.services import cancel_rows
from crm.insights.models import CustomerDecision, TierChange
from crm.moments.models import Commitment, Moment, MomentType

REASON_MAX = 500
FORMAT_VERSION = 1


def erased_name(customer_id: int) -> str:
    """What an erased customer is called. Stored once, in no language: the pages say
    "erased" in the reader's own words next to it."""
    return f"— erased #{customer_id}"


# --- access request ---------------------------------------------------------------------

def _plain(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return None
    return value


def _rows(stmt) -> list[dict]:
    return [{key: _plain(value) for key, value in row._mapping.items()} for row in db.session.execute(stmt)]


def _columns(model, *names):
    return [getattr(model, name) for name in names]


def _message_text(raw: bytes | None) -> str | None:
    """The plain-text body a message carried (what the customer read), or None."""
    if not raw:
        return None
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        part = message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else None
    except Exception:  # a damaged message must not stop the export  # noqa: BLE001
        return None


def _concerning(customer_id: int):
    """Audit events about the customer or about their contacts, purchases, compensations and
    messages: each an indexed (entity, entity_id) lookup."""
    owned = (("moment", Moment), ("purchase", Purchase), ("compensation", Compensation),
             ("message", OutboxMessage))
    return or_(and_(AuditEvent.entity == "customer", AuditEvent.entity_id == customer_id),
               *(and_(AuditEvent.entity == entity,
                      AuditEvent.entity_id.in_(select(model.id).where(model.customer_id == customer_id)))
                 for entity, model in owned))


def customer_record(customer: Customer, now: datetime) -> dict:
    """Everything held about one customer, in one JSON-ready document: one query per table."""
    cid = customer.id
    owner = customer.owner
    messages = []
    for row in db.session.execute(
            select(OutboxMessage.id, OutboxMessage.kind, OutboxMessage.survey, OutboxMessage.status,
                   OutboxMessage.to_address, OutboxMessage.language, OutboxMessage.subject,
                   OutboxMessage.message, OutboxMessage.due_at, OutboxMessage.sent_at, OutboxMessage.cancelled_at,
                   OutboxMessage.created_at, OutboxMessage.moment_id, OutboxMessage.compensation_id,
                   MessageTemplate.code.label("template"))
            .outerjoin(MessageTemplate, MessageTemplate.id == OutboxMessage.template_id)
            .where(OutboxMessage.customer_id == cid, OutboxMessage.user_id.is_(None))
            .order_by(OutboxMessage.due_at, OutboxMessage.id)):
        item = {key: _plain(value) for key, value in row._mapping.items() if key != "message"}
        item["body"] = _message_text(row.message)
        messages.append(item)
    return {
        "format": "fideliza.customer-data", "version": FORMAT_VERSION, "generated_at": now.isoformat(),
        "customer": {
            **{name: _plain(getattr(customer, name)) for name in (
                "id", "name", "email", "phone", "company", "segment", "stage", "loyalty", "tier", "language",
                "renewal_date", "last_activity_at", "created_at", "updated_at", "erased_at")},
            "owner": {"id": owner.id, "name": owner.name} if owner else None,
        },
        "consent": {"marketing_consent": customer.marketing_consent,
                    "unsubscribed_at": _plain(customer.unsubscribed_at)},
        "stage_history": _rows(select(*_columns(StageChange, "id", "from_stage", "to_stage", "at", "user_id",
                                                "rule", "reason"))
                               .where(StageChange.customer_id == cid).order_by(StageChange.at, StageChange.id)),
        "tier_history": _rows(select(*_columns(TierChange, "id", "from_tier", "to_tier", "at", "profit", "rule",
                                               "reason", "user_id"))
                              .where(TierChange.customer_id == cid).order_by(TierChange.at, TierChange.id)),
        "decisions": _rows(select(*_columns(CustomerDecision, "id", "decision", "reason", "profit", "user_id", "at"))
                           .where(CustomerDecision.customer_id == cid)
                           .order_by(CustomerDecision.at, CustomerDecision.id)),
        "moments": _rows(select(*_columns(Moment, "id", "occurred_at", "channel", "staff_id", "emotion", "notes",
                                          "cost", "outcome", "follows_moment_id", "incident_id", "resolved_at"),
                                MomentType.code.label("moment_type"), MomentType.name.label("moment_type_name"))
                         .join(MomentType, MomentType.id == Moment.moment_type_id)
                         .where(Moment.customer_id == cid).order_by(Moment.occurred_at, Moment.id)),
        "commitments": _rows(select(*_columns(Commitment, "id", "moment_id", "kind", "status", "owner_id",
                                              "starts_at", "due_at", "paused_at", "met_at", "breached_at"))
                             .where(Commitment.customer_id == cid).order_by(Commitment.due_at, Commitment.id)),
        "compensations": _rows(select(*_columns(Compensation, "id", "commitment_id", "moment_id", "kind", "value",
                                                "cost", "status", "reason", "decision_note", "proposed_at",
                                                "decided_at", "issued_at"))
                               .where(Compensation.customer_id == cid)
                               .order_by(Compensation.proposed_at, Compensation.id)),
        "purchases": _rows(select(*_columns(Purchase, "id", "amount", "currency", "purchased_on", "description",
                                            "created_at"))
                           .where(Purchase.customer_id == cid).order_by(Purchase.purchased_on, Purchase.id)),
        "survey_responses": _rows(select(*_columns(SurveyResponse, "id", "kind", "score", "comment", "answered_at",
                                                   "moment_id", "outbox_id"))
                                  .where(SurveyResponse.customer_id == cid)
                                  .order_by(SurveyResponse.answered_at, SurveyResponse.id)),
        "messages": messages,
        "audit_events": _rows(select(*_columns(AuditEvent, "id", "at", "user_id", "action", "entity", "entity_id",
                                               "details"))
                              .where(_concerning(cid)).order_by(AuditEvent.at, AuditEvent.id)),
    }


def export_customer_data(actor: User | None, customer: Customer, now: datetime, *, via: str) -> dict:
    """Everything held about the customer (an access request), with who read it and how
    (page, api, cli) in the audit trail."""
    document = customer_record(customer, now)
    audit.record(actor, "customer.data_exported", "customer", customer.id, now, via=via)
    db.session.flush()
    return document


# --- erasure ------------------------------------------------------------------------------

def erase_customer(actor: User | None, customer: Customer, reason, now: datetime, *,
                   confirmation: str | None = None) -> dict[str, int]:
    """Remove or blank every personal datum of `customer`, in the caller's transaction.

    `actor` None is an operator at the command line. `confirmation`, when given (the page
    asks for it), must be the customer's name as shown. Returns what was changed, by kind;
    the same counts go into the `customer.erased` audit event, with the reason and no
    personal data.
    """
    if actor is not None and not actor.has_role("admin"):
        raise Forbidden(N_("only admins erase customers"))
    if customer.erased_at is not None:
        raise Conflict(N_("this customer was already erased"))
    c = Cleaner()
    reason = c.text("reason", reason, max_len=REASON_MAX, required=True, multiline=True)
    if confirmation is not None and confirmation.strip() != customer.name.strip():
        c.fail("confirmation", N_("type the customer's name exactly as shown to confirm"))
    c.check()
    cid = customer.id

    def run(stmt) -> int:
        return db.session.execute(stmt, execution_options={"synchronize_session": False}).rowcount

    # Claimed with one conditional UPDATE: of two admins erasing at once, one wins and the
    # other is told (PostgreSQL re-checks the condition on the locked row).
    if not run(update(Customer).where(Customer.id == cid, Customer.erased_at.is_(None)).values(erased_at=now)):
        raise Conflict(N_("this customer was already erased"))
    counts = {
        "search_terms": search_index.remove([cid]),
        "moment_notes": run(update(Moment).where(Moment.customer_id == cid, Moment.notes != "").values(notes="")),
        "survey_comments": run(update(SurveyResponse).where(SurveyResponse.customer_id == cid,
                                                            SurveyResponse.comment != "").values(comment="")),
        # Waiting messages never leave; every message loses its address and words (staff alerts
        # about the customer too). Status, kind and instants stay: delivery figures do not change.
        "messages_cancelled": cancel_rows(OutboxMessage.customer_id == cid, now, "the customer's data was erased"),
        "messages_blanked": run(update(OutboxMessage).where(OutboxMessage.customer_id == cid)
                                .values(to_address="", subject="", message=b"")),
        # Manual reasons are free text; "created" is the app's own word.
        "stage_reasons": run(update(StageChange).where(StageChange.customer_id == cid,
                                                       StageChange.reason.not_in(("", "created")))
                             .values(reason="")),
        "tier_reasons": run(update(TierChange).where(TierChange.customer_id == cid, TierChange.reason != "")
                            .values(reason="")),
        "decision_reasons": run(update(CustomerDecision).where(CustomerDecision.customer_id == cid,
                                                               CustomerDecision.reason != "").values(reason="")),
        # "breach:<kind>" is the app's own words; a goodwill gesture's words are someone's free text.
        "compensation_reasons": run(update(Compensation).where(
            Compensation.customer_id == cid,
            or_(Compensation.reason.like("goodwill:_%"), Compensation.decision_note != "",
                and_(Compensation.reason != "", Compensation.reason.not_like("breach:%"),
                     Compensation.reason != "goodwill:")))
            .values(reason=case((Compensation.reason.like("breach:%"), Compensation.reason),
                                (Compensation.reason.like("goodwill:%"), literal("goodwill:")), else_=literal("")),
                    decision_note="")),
        "purchase_descriptions": run(update(Purchase).where(Purchase.customer_id == cid, Purchase.description != "")
                                     .values(description="")),
    }
    customer.name = erased_name(cid)
    customer.sort_name = search.sort_key(customer.name)
    customer.email = customer.phone = customer.company = None
    customer.marketing_consent = False
    if customer.unsubscribed_at is None:
        customer.unsubscribed_at = now
    customer.erased_at = customer.updated_at = now  # the session's copy, as the UPDATE above set it
    audit.record(actor, "customer.erased", "customer", cid, now, reason=reason, counts=counts)
    db.session.flush()
    # What the session held about the rows changed behind its back is stale now.
    for obj in list(db.session.identity_map.values()):
        if getattr(obj, "customer_id", None) == cid:
            db.session.expire(obj)
    return counts
