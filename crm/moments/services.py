"""Logging contacts (moments of truth) and keeping the commitments they create."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import joinedload

from crm import audit
from crm.auth.models import User
from crm.calendars.models import Calendar
from crm.calendars.services import arithmetic, default_calendar
from crm.customers.automation import after_contact
from crm.customers.models import Customer
from crm.domain import N_, Cleaner, Conflict, NotFound
from crm.extensions import db
from crm.followups.services import schedule_after_moment
from crm.insights import rollup
from crm.moments import commitments as rules
from crm.moments.catalog import MAX_COST, get_moment_type, parse_decimal
from crm.moments.models import (
    CHANNELS,
    COMMITMENT_KINDS,
    COMMITMENT_STATUSES,
    EMOTIONS,
    OPEN_STATUSES,
    OUTCOMES,
    Commitment,
    Moment,
)
from crm.pagination import Page, paginate
from crm.queries import get_or_raise, is_id
from crm.webhooks import events as webhook_events

EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
FUTURE_TOLERANCE = timedelta(minutes=10)
NOTES_MAX = 5000


# A sign, then ASCII digits (str.isdigit() also says yes to "²", which int() refuses; past
# 4,300 digits int() refuses too): anything else is not a whole number from -2 to 2.
_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]{1,18}")


def clean_emotion(c: Cleaner, value):
    if value in (None, ""):
        return None
    if isinstance(value, str) and _WHOLE_NUMBER.fullmatch(value.strip()):
        value = int(value)
    if not _is_int(value) or value not in EMOTIONS:
        c.fail("emotion", N_("must be a whole number from -2 to 2"))
        return None
    return value


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def log_moment(actor: User, data: dict, now: datetime) -> Moment:
    """Log one contact. Customer, type and notes are enough; the rest has defaults.

    A contact that follows an earlier one joins its incident: it answers the
    incident's first-response commitment and, when it resolves the matter, the
    resolution commitment too. A new incident gets commitments from the type's
    service level for the customer's tier.
    """
    c = Cleaner()
    customer = None
    if data.get("customer_id") in (None, ""):
        c.fail("customer_id", N_("is required"))
    elif not is_id(data["customer_id"]):
        c.fail("customer_id", N_("no such customer"))
    else:
        customer = db.session.get(Customer, data["customer_id"])
        if customer is None:
            c.fail("customer_id", N_("no such customer"))
        elif customer.erased_at is not None:
            c.fail("customer_id", N_("this customer's personal data was erased on request"))
    moment_type = None
    try:
        moment_type = get_moment_type(data.get("moment_type"))
        if not moment_type.active:
            c.fail("moment_type", N_("this moment type is no longer in use"))
    except NotFound:
        c.fail("moment_type", N_("no such moment type"))
    channel = c.choice("channel", data.get("channel") or None, CHANNELS, required=False)
    outcome = c.choice("outcome", data.get("outcome") or "pending", OUTCOMES)
    emotion = clean_emotion(c, data.get("emotion"))
    notes = c.text("notes", data.get("notes"), max_len=NOTES_MAX, multiline=True) or ""
    cost = parse_decimal(c, "cost", data.get("cost"), maximum=MAX_COST)
    occurred_at = data.get("occurred_at") or now
    if not isinstance(occurred_at, datetime) or occurred_at.tzinfo is None:
        c.fail("occurred_at", N_("must be a date and time with its time zone"))
    elif not (EARLIEST <= occurred_at <= now + FUTURE_TOLERANCE):
        c.fail("occurred_at", N_("cannot be in the future or before 2000"))
    staff_id = data.get("staff_id") or actor.id
    if staff_id != actor.id and (not is_id(staff_id) or db.session.get(User, staff_id) is None):
        c.fail("staff_id", N_("no such user"))
    follows = None
    if data.get("follows_moment_id") not in (None, ""):
        follows_id = data["follows_moment_id"]
        follows = db.session.get(Moment, follows_id) if is_id(follows_id) else None
        if follows is None or (customer is not None and follows.customer_id != customer.id):
            c.fail("follows_moment_id", N_("must be an earlier contact with the same customer"))
            follows = None
        elif isinstance(occurred_at, datetime) and occurred_at.tzinfo and follows.occurred_at > occurred_at:
            c.fail("follows_moment_id", N_("must be an earlier contact with the same customer"))
    c.check()

    moment = Moment(
        customer_id=customer.id,
        moment_type_id=moment_type.id,
        channel=channel or moment_type.channel,
        staff_id=staff_id,
        occurred_at=occurred_at.astimezone(timezone.utc),
        emotion=emotion,
        notes=notes,
        cost=moment_type.cost if cost is None else cost,
        outcome=outcome,
        follows_moment_id=follows.id if follows else None,
        created_at=now,
    )
    db.session.add(moment)
    db.session.flush()
    if follows is not None:
        moment.incident_id = follows.incident_id or follows.id
        _answer_incident(actor, moment, now)
        _settle_resolution(moment.incident_id)
    else:
        moment.incident_id = moment.id
        _create_commitments(moment, customer, moment_type)
        if outcome == "resolved":
            moment.resolved_at, moment.resolved_contact = moment.occurred_at, 1
    if customer.last_activity_at is None or customer.last_activity_at < moment.occurred_at:
        customer.last_activity_at = moment.occurred_at
    db.session.flush()
    schedule_after_moment(moment, now)
    audit.record(actor, "moment.logged", "moment", moment.id, now, customer_id=customer.id)
    webhook_events.moment_logged(moment, moment_type.code, now)
    after_contact(customer.id, moment_type.code, now)
    return moment


def _create_commitments(moment: Moment, customer: Customer, moment_type) -> None:
    level = moment_type.service_level_for(customer.tier)
    if level is None:
        return
    calendar = moment_type.calendar or default_calendar()
    business = arithmetic(calendar)
    resolved = moment.outcome == "resolved"
    for kind in COMMITMENT_KINDS:
        hours = level.target_hours(kind)
        if hours is None:
            continue
        deadline = rules.plan(business, moment.occurred_at, hours, moment_type.warn_ratio)
        db.session.add(Commitment(
            moment=moment,
            customer_id=moment.customer_id,
            owner_id=moment.staff_id,
            kind=kind,
            calendar_id=calendar.id if calendar else None,
            starts_at=moment.occurred_at,
            due_at=deadline.due_at,
            warn_at=deadline.warn_at,
            # Solved during the contact itself: the promise is kept on the spot.
            status="met" if resolved else "open",
            met_at=moment.occurred_at if resolved else None,
            met_by_id=moment.staff_id if resolved else None,
        ))


def _answer_incident(actor: User, moment: Moment, now: datetime) -> None:
    kinds = ["first_response"] + (["resolution"] if moment.outcome == "resolved" else [])
    # The incident's contacts, then their commitments by the unique (moment_id, kind)
    # index alone; kind and status are checked here. Given those filters, SQLite without
    # statistics may scan every open commitment instead (200 ms at a million).
    contacts = list(db.session.scalars(select(Moment.id).where(Moment.incident_id == moment.incident_id)))
    pending = [c for c in db.session.scalars(select(Commitment).where(Commitment.moment_id.in_(contacts)))
               if c.kind in kinds and c.status in OPEN_STATUSES]
    for commitment in pending:
        commitment.status = "met"
        commitment.met_at = moment.occurred_at
        commitment.met_by_id = actor.id


def _settle_resolution(incident_id: int) -> None:
    """Record on the incident's first contact when it was first resolved and by which of
    its contacts (in the order they happened), after a contact joined it. An incident has
    a handful of contacts, so this reads them all."""
    db.session.flush()
    contacts = db.session.execute(select(Moment.occurred_at, Moment.outcome).where(
        Moment.incident_id == incident_id).order_by(Moment.occurred_at, Moment.id)).all()
    resolved_at = resolved_contact = None
    for number, (occurred_at, outcome) in enumerate(contacts, 1):
        if outcome == "resolved":
            resolved_at, resolved_contact = occurred_at, number
            break
    rollup.mark_moments([incident_id])  # the day it was resolved on, before
    db.session.execute(update(Moment).where(Moment.id == incident_id).values(
        resolved_at=resolved_at, resolved_contact=resolved_contact), execution_options={"synchronize_session": False})
    rollup.mark_instants([resolved_at])  # and after


# The statements of migration 096fed2f323d's backfill, for data loaded in bulk (the demo).
RESOLUTION_BACKFILL = (
    "UPDATE moments SET resolved_at = (SELECT MIN(r.occurred_at) FROM moments r "
    "WHERE r.incident_id = moments.id AND r.outcome = 'resolved') WHERE id = incident_id",
    "UPDATE moments SET resolved_contact = (SELECT COUNT(*) FROM moments c WHERE c.incident_id = moments.id "
    "AND (c.occurred_at < moments.resolved_at OR (c.occurred_at = moments.resolved_at AND c.id <= "
    "(SELECT MIN(r.id) FROM moments r WHERE r.incident_id = moments.id AND r.outcome = 'resolved' "
    "AND r.occurred_at = moments.resolved_at)))) WHERE id = incident_id AND resolved_at IS NOT NULL",
)


def backfill_resolutions() -> None:
    """Set every incident's resolution from its contacts (after a bulk load)."""
    from sqlalchemy import text

    for statement in RESOLUTION_BACKFILL:
        db.session.execute(text(statement))


def get_moment(moment_id: int) -> Moment:
    return get_or_raise(Moment, moment_id, N_("no such contact"))


def set_emotion(actor: User, moment: Moment, emotion, now: datetime) -> Moment:
    c = Cleaner()
    value = clean_emotion(c, emotion)
    c.check()
    moment.emotion = value
    db.session.flush()
    audit.record(actor, "moment.emotion_set", "moment", moment.id, now, emotion=value)
    return moment


def get_commitment(commitment_id: int) -> Commitment:
    return get_or_raise(Commitment, commitment_id, N_("no such commitment"))


def mark_met(actor: User, commitment: Commitment, now: datetime) -> Commitment:
    if commitment.status not in OPEN_STATUSES:
        raise Conflict(N_("this commitment is already closed"), "status")
    commitment.status = "met"
    commitment.met_at = now
    commitment.met_by_id = actor.id
    commitment.paused_at = commitment.remaining_seconds = None
    db.session.flush()
    audit.record(actor, "commitment.met", "commitment", commitment.id, now)
    return commitment


def _calendar_of(commitment: Commitment):
    calendar = db.session.get(Calendar, commitment.calendar_id) if commitment.calendar_id else None
    return arithmetic(calendar)


def pause_commitment(actor: User, commitment: Commitment, now: datetime) -> Commitment:
    """Waiting on the customer: the clock stops and keeps the business time that was left."""
    if commitment.status != "open":
        raise Conflict(N_("only an open commitment can be paused"), "status")
    if commitment.due_at <= now:
        raise Conflict(N_("this commitment is already past due"), "status")
    commitment.remaining_seconds = rules.remaining_at_pause(_calendar_of(commitment), commitment.due_at, now)
    commitment.paused_at = now
    commitment.status = "paused"
    db.session.flush()
    audit.record(actor, "commitment.paused", "commitment", commitment.id, now)
    return commitment


def resume_commitment(actor: User, commitment: Commitment, now: datetime) -> Commitment:
    """The clock starts again; the deadline moves by the business time spent paused."""
    if commitment.status != "paused":
        raise Conflict(N_("only a paused commitment can be resumed"), "status")
    deadline = rules.resumed(_calendar_of(commitment), now=now, remaining_seconds=commitment.remaining_seconds or 0,
                             paused_at=commitment.paused_at, warn_at=commitment.warn_at)
    commitment.due_at, commitment.warn_at = deadline.due_at, deadline.warn_at
    commitment.status = "open"
    commitment.paused_at = commitment.remaining_seconds = None
    db.session.flush()
    audit.record(actor, "commitment.resumed", "commitment", commitment.id, now)
    return commitment


def _commitments_query():
    """Commitments with what a queue row shows: customer, contact type, owner."""
    return select(Commitment).options(
        joinedload(Commitment.moment).joinedload(Moment.customer),
        joinedload(Commitment.moment).joinedload(Moment.moment_type),
        joinedload(Commitment.owner))


def open_commitments(*, owner_id: int | None = None, page: int = 1, per_page: int = 25) -> Page:
    """Open and paused commitments, soonest due first: past due ones lead the list."""
    stmt = _commitments_query().where(Commitment.status.in_(OPEN_STATUSES))
    if owner_id is not None:
        stmt = stmt.where(Commitment.owner_id == owner_id)
    return paginate(stmt.order_by(Commitment.due_at, Commitment.id), page, per_page)


def list_commitments(*, status: str | None = None, customer_id: int | None = None,
                     owner_id: int | None = None, page: int = 1, per_page: int = 25) -> Page:
    c = Cleaner()
    c.choice("status", status, COMMITMENT_STATUSES, required=False)
    c.check()
    stmt = _commitments_query()
    if status:
        stmt = stmt.where(Commitment.status == status)
    if customer_id is not None:
        stmt = stmt.where(Commitment.customer_id == customer_id)
    if owner_id is not None:
        stmt = stmt.where(Commitment.owner_id == owner_id)
    # Open ones by deadline, closed ones most recent first.
    open_first = case((Commitment.status.in_(OPEN_STATUSES), 0), else_=1)
    return paginate(stmt.order_by(open_first, Commitment.due_at, Commitment.id), page, per_page)


def commitment_counts(customer: Customer) -> dict[str, int]:
    """How many of the customer's commitments are open, paused, met and breached."""
    counts = dict.fromkeys(COMMITMENT_STATUSES, 0)
    counts.update(db.session.execute(select(Commitment.status, func.count()).where(
        Commitment.customer_id == customer.id).group_by(Commitment.status)).all())
    return counts


def recent_moments(customer: Customer, limit: int = 10) -> list[Moment]:
    return list(db.session.scalars(
        select(Moment).where(Moment.customer_id == customer.id).options(joinedload(Moment.moment_type))
        .order_by(Moment.occurred_at.desc(), Moment.id.desc()).limit(limit)
    ))
