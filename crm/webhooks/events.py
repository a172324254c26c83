"""Writing webhook events: called by the services whose changes they tell about, in their transaction.

An event carries ids, states, dates and figures, never personal data (no names,
emails, phones, notes or comments): a receiver that needs them asks the API with a
token, so erasing a customer leaves nothing personal in queued or delivered bodies.
When no active endpoint wants an event type, nothing is written at all.
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy import insert, select

from crm.extensions import db
from crm.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent


def instant(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def body_for(uid: str, event_type: str, data: dict, now: datetime) -> str:
    return json.dumps({"id": uid, "type": event_type, "created_at": instant(now), "data": data},
                      ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def subscribers(event_type: str) -> list[int]:
    """Ids of the active endpoints that want this event (a handful of rows at most)."""
    rows = db.session.execute(select(WebhookEndpoint.id, WebhookEndpoint.events)
                              .where(WebhookEndpoint.active.is_(True))).all()
    return [endpoint_id for endpoint_id, events in rows if event_type in (events or [])]


def emit(event_type: str, items: Iterable[dict], now: datetime, *, endpoint_ids: list[int] | None = None) -> int:
    """Write one event per item and one due delivery per subscribed endpoint; returns the events written."""
    endpoints = subscribers(event_type) if endpoint_ids is None else endpoint_ids
    if not endpoints:
        return 0
    rows = []
    for data in items:
        uid = "evt_" + uuid.uuid4().hex
        rows.append({"uid": uid, "type": event_type, "body": body_for(uid, event_type, data, now), "created_at": now})
    if not rows:
        return 0
    table = WebhookEvent.__table__
    ids = db.session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows).scalars().all()
    db.session.execute(insert(WebhookDelivery.__table__), [
        {"event_id": event_id, "endpoint_id": endpoint_id, "status": "pending", "attempts": 0, "due_at": now,
         "created_at": now}
        for event_id in ids for endpoint_id in endpoints])
    return len(ids)


# --- what each event says --------------------------------------------------------------

def customer_created(customer, now: datetime) -> int:
    return emit("customer.created", [{"customer": {
        "id": customer.id, "stage": customer.stage, "loyalty": customer.loyalty, "segment": customer.segment,
        "tier": customer.tier, "owner_id": customer.owner_id, "created_at": instant(customer.created_at)}}], now)


def stages_changed(changes: Iterable[dict], now: datetime) -> int:
    """changes: dicts with customer_id, from_stage, to_stage, at, user_id and rule (a stage-history row)."""
    return emit("customer.stage_changed", [{
        "customer": {"id": change["customer_id"]}, "from_stage": change["from_stage"],
        "to_stage": change["to_stage"], "at": instant(change["at"]), "by_user_id": change.get("user_id"),
        "rule": change.get("rule")} for change in changes], now)


def moment_logged(moment, type_code: str, now: datetime) -> int:
    return emit("moment.logged", [{"moment": {
        "id": moment.id, "customer_id": moment.customer_id, "type": type_code,
        "channel": moment.channel, "staff_id": moment.staff_id, "occurred_at": instant(moment.occurred_at),
        "emotion": moment.emotion, "outcome": moment.outcome, "cost": money(moment.cost),
        "incident_id": moment.incident_id, "follows_moment_id": moment.follows_moment_id}}], now)


def commitments_breached(rows: Iterable, now: datetime) -> int:
    """rows: (id, kind, customer_id, moment_id, due_at) of the commitments a sweep just broke."""
    return emit("commitment.breached", [{"commitment": {
        "id": row.id, "kind": row.kind, "customer_id": row.customer_id, "moment_id": row.moment_id,
        "due_at": instant(row.due_at), "breached_at": instant(row.due_at)}} for row in rows], now)


def compensations_issued(compensations: Iterable, now: datetime) -> int:
    return emit("compensation.issued", [{"compensation": {
        "id": c.id, "customer_id": c.customer_id, "moment_id": c.moment_id, "commitment_id": c.commitment_id,
        "kind": c.kind, "value": money(c.value), "cost": money(c.cost), "reason": c.reason.split(":", 1)[0],
        "issued_at": instant(c.issued_at)}} for c in compensations], now)


def survey_answered(response, now: datetime) -> int:
    return emit("survey.answered", [{"survey": {
        "id": response.id, "kind": response.kind, "score": response.score, "customer_id": response.customer_id,
        "moment_id": response.moment_id, "answered_at": instant(response.answered_at),
        "has_comment": bool(response.comment)}}], now)
