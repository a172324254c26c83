"""A staff member's open commitments and scheduled follow-ups as an iCalendar (RFC 5545)
document, written in their language. One query per kind, bounded."""
from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import current_app, url_for
from flask_babel import gettext as _
from icalendar import Alarm, Calendar, Event
from sqlalchemy import select

from crm.auth.models import User
from crm.customers.models import Customer
from crm.extensions import db
from crm.followups.models import OutboxMessage
from crm.i18n import in_language, supported_language
from crm.labels import label
from crm.moments.models import COMMITMENT_KINDS, OPEN_STATUSES, Commitment, Moment, MomentType

EVENT_LENGTH = timedelta(minutes=15)
MAX_EVENTS = 2000  # per kind: enough for anyone's agenda, small enough for any calendar app
FOLLOWUPS_AHEAD = timedelta(days=90)
FOLLOWUPS_BEHIND = timedelta(days=7)  # still waiting to leave: the dispatcher may be behind


def open_commitments(user: User):
    """(commitment, customer name, moment type name) of the user's open and paused commitments."""
    return db.session.execute(
        select(Commitment, Customer.name, MomentType.name)
        .join(Moment, Moment.id == Commitment.moment_id)
        .join(Customer, Customer.id == Commitment.customer_id)
        .join(MomentType, MomentType.id == Moment.moment_type_id)
        .where(Commitment.owner_id == user.id, Commitment.status.in_(OPEN_STATUSES))
        .order_by(Commitment.due_at, Commitment.id).limit(MAX_EVENTS)).all()


def pending_followups(user: User, now: datetime):
    """(message id, customer id, subject, due, customer name) of the emails waiting to go to
    customers the user looks after, from a week ago to three months ahead."""
    return db.session.execute(
        select(OutboxMessage.id, OutboxMessage.customer_id, OutboxMessage.subject, OutboxMessage.due_at,
               Customer.name)
        .join(Customer, Customer.id == OutboxMessage.customer_id)
        .where(Customer.owner_id == user.id, OutboxMessage.status == "pending",
               OutboxMessage.due_at >= now - FOLLOWUPS_BEHIND, OutboxMessage.due_at < now + FOLLOWUPS_AHEAD)
        .order_by(OutboxMessage.due_at, OutboxMessage.id).limit(MAX_EVENTS)).all()


def _customer_url(base: str, customers_path: str, customer_id: int) -> str:
    return f"{base}{customers_path}/{customer_id}"


def build_calendar(user: User, now: datetime) -> bytes:
    base = current_app.config["CRM_BASE_URL"].rstrip("/")
    host = urlsplit(base).hostname or "fideliza"
    customers_path = url_for("customers.index")
    commitments = open_commitments(user)
    followups = pending_followups(user, now)
    with in_language(supported_language(user.locale)):
        cal = Calendar()
        cal.add("prodid", "-//Fideliza CRM//Calendar feed//EN")
        cal.add("version", "2.0")
        cal.add("calscale", "GREGORIAN")
        cal.add("method", "PUBLISH")
        cal.add("x-wr-calname", _("Fideliza: %(name)s", name=user.name))
        cal.add("x-published-ttl", "PT15M")
        # Each sentence is translated once, then filled in per event (gettext costs ~30 µs a call).
        words = {"commitment": _("%(kind)s: %(customer)s (%(type)s)"), "link": _("Customer: %(url)s"),
                 "paused": _("Paused: waiting on the customer. The deadline moves when it resumes."),
                 "at_risk": _("At risk: %(customer)s"),
                 "followup": _("Follow-up: %(subject)s — %(customer)s")}
        kinds = {kind: label("kind", kind) for kind in COMMITMENT_KINDS}
        statuses = {status: label("status", status) for status in OPEN_STATUSES}
        for commitment, customer_name, type_name in commitments:
            link = _customer_url(base, customers_path, commitment.customer_id)
            event = Event()
            event.add("uid", f"commitment-{commitment.id}@{host}")
            event.add("dtstamp", now)
            event.add("dtstart", commitment.due_at)
            event.add("duration", EVENT_LENGTH)
            event.add("summary", words["commitment"] % {"kind": kinds.get(commitment.kind, commitment.kind),
                                                         "customer": customer_name, "type": type_name})
            lines = [words["link"] % {"url": link}]
            if commitment.status == "paused":
                lines.append(words["paused"])
            event.add("description", "\n".join(lines))
            event.add("url", link)
            event.add("status", "TENTATIVE" if commitment.status == "paused" else "CONFIRMED")
            event.add("categories", [statuses.get(commitment.status, commitment.status)])
            if commitment.warn_at is not None and commitment.status == "open":
                alarm = Alarm()
                alarm.add("action", "DISPLAY")
                alarm.add("description", words["at_risk"] % {"customer": customer_name})
                alarm.add("trigger", commitment.warn_at)
                event.add_component(alarm)
            cal.add_component(event)
        for message_id, customer_id, subject, due_at, customer_name in followups:
            link = _customer_url(base, customers_path, customer_id)
            event = Event()
            event.add("uid", f"followup-{message_id}@{host}")
            event.add("dtstamp", now)
            event.add("dtstart", due_at)
            event.add("duration", EVENT_LENGTH)
            event.add("summary", words["followup"] % {"subject": subject, "customer": customer_name})
            event.add("description", words["link"] % {"url": link})
            event.add("url", link)
            event.add("status", "CONFIRMED")
            cal.add_component(event)
    return cal.to_ical()
