"""Webhook endpoints and their deliveries: what admins do from the pages, the API and the CLI.

Services flush, never commit; only admins manage webhooks (checked here as well as
at the routes, since the same functions serve every boundary).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import joinedload

from crm import audit
from crm.auth.models import User
from crm.domain import N_, Cleaner, Conflict, DomainError, Forbidden, ValidationFailed
from crm.extensions import db
from crm.pagination import Page, paginate
from crm.queries import get_or_raise
from crm.webhooks import events as webhook_events
from crm.webhooks import rules
from crm.webhooks.models import DELIVERY_STATUSES, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent

DESCRIPTION_MAX = 200
ENDPOINTS_MAX = 50


def _require_admin(actor: User) -> None:
    if not actor.has_role("admin"):
        raise Forbidden(N_("only admins manage webhooks"))


def _clean(data: dict, endpoint: WebhookEndpoint | None) -> dict:
    c = Cleaner()
    fields = {}
    if endpoint is None or "url" in data:
        url = c.text("url", data.get("url"), max_len=rules.URL_MAX, required=True)
        if url is not None:
            problem = rules.url_problem(url)
            if problem:
                c.fail("url", problem)
            else:
                fields["url"] = url
    if endpoint is None or "description" in data:
        description = c.text("description", data.get("description"), max_len=DESCRIPTION_MAX)
        if description is not None:
            fields["description"] = description
    if endpoint is None or "events" in data:
        chosen = data.get("events")
        if not isinstance(chosen, (list, tuple)) or not all(isinstance(e, str) for e in chosen):
            c.fail("events", N_("choose at least one event"))
        elif not chosen:
            c.fail("events", N_("choose at least one event"))
        elif set(chosen) - set(rules.EVENT_TYPES):
            c.fail("events", N_("must be one of: %(choices)s"), choices=", ".join(rules.EVENT_TYPES))
        else:
            fields["events"] = [e for e in rules.EVENT_TYPES if e in set(chosen)]
    if "active" in data:
        if not isinstance(data["active"], bool):
            c.fail("active", N_("must be true or false"))
        else:
            fields["active"] = data["active"]
    unknown = set(data) - {"url", "description", "events", "active"}
    for name in sorted(unknown):
        c.fail(name, N_("cannot be changed here"))
    c.check()
    return fields


def create_endpoint(actor: User, data: dict, now: datetime) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret, which the caller shows once."""
    _require_admin(actor)
    fields = _clean(data, None)
    if db.session.scalar(select(func.count(WebhookEndpoint.id))) >= ENDPOINTS_MAX:
        raise Conflict(N_("there are already %(count)d webhook endpoints; delete one first"), count=ENDPOINTS_MAX)
    secret = rules.new_secret()
    endpoint = WebhookEndpoint(**{"active": True, **fields}, secret=secret, created_by_id=actor.id,
                               created_at=now, updated_at=now)
    db.session.add(endpoint)
    db.session.flush()
    audit.record(actor, "webhook.created", "webhook", endpoint.id, now, events=endpoint.events)
    return endpoint, secret


def update_endpoint(actor: User, endpoint: WebhookEndpoint, data: dict, now: datetime) -> WebhookEndpoint:
    _require_admin(actor)
    fields = _clean(data, endpoint)
    changed = {k: v for k, v in fields.items() if getattr(endpoint, k) != v}
    for key, value in changed.items():
        setattr(endpoint, key, value)
    if changed:
        endpoint.updated_at = now
        audit.record(actor, "webhook.updated", "webhook", endpoint.id, now, fields=sorted(changed))
    db.session.flush()
    return endpoint


def rotate_secret(actor: User, endpoint: WebhookEndpoint, now: datetime) -> str:
    """A new secret signs every delivery from now on, retries of older events included."""
    _require_admin(actor)
    endpoint.secret = rules.new_secret()
    endpoint.secret_rotated_at = endpoint.updated_at = now
    db.session.flush()
    audit.record(actor, "webhook.secret_rotated", "webhook", endpoint.id, now)
    return endpoint.secret


def delete_endpoint(actor: User, endpoint: WebhookEndpoint, now: datetime) -> None:
    """The endpoint goes with its deliveries (events other endpoints still need stay)."""
    _require_admin(actor)
    audit.record(actor, "webhook.deleted", "webhook", endpoint.id, now, url=endpoint.url)
    db.session.delete(endpoint)
    db.session.flush()


def send_test(actor: User, endpoint: WebhookEndpoint, now: datetime) -> WebhookDelivery:
    """A `webhook.ping` event for this endpoint alone, due at once, so an admin sees the receiver answer."""
    _require_admin(actor)
    webhook_events.emit(rules.PING, [{"endpoint_id": endpoint.id}], now, endpoint_ids=[endpoint.id])
    return db.session.scalars(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
                              .order_by(WebhookDelivery.id.desc()).limit(1)).one()


def get_endpoint(endpoint_id) -> WebhookEndpoint:
    return get_or_raise(WebhookEndpoint, endpoint_id, N_("no such webhook endpoint"))


def list_endpoints() -> list[WebhookEndpoint]:
    return list(db.session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)))


def delivery_counts(endpoint_ids: list[int] | None = None) -> dict[int, dict[str, int]]:
    """Deliveries per endpoint and status, in one grouped query."""
    query = select(WebhookDelivery.endpoint_id, WebhookDelivery.status, func.count()).group_by(
        WebhookDelivery.endpoint_id, WebhookDelivery.status)
    if endpoint_ids is not None:
        query = query.where(WebhookDelivery.endpoint_id.in_(endpoint_ids))
    counts: dict[int, dict[str, int]] = {}
    for endpoint_id, status, count in db.session.execute(query):
        counts.setdefault(endpoint_id, dict.fromkeys(DELIVERY_STATUSES, 0))[status] = count
    return counts


def list_deliveries(*, endpoint_id: int | None = None, status: str | None = None, page: int = 1,
                    per_page: int = 25) -> Page:
    """Newest first, with each one's event (type and id) loaded."""
    query = select(WebhookDelivery).options(joinedload(WebhookDelivery.event), joinedload(WebhookDelivery.endpoint))
    if endpoint_id is not None:
        query = query.where(WebhookDelivery.endpoint_id == endpoint_id)
    if status not in (None, ""):
        if status not in DELIVERY_STATUSES:
            raise ValidationFailed({"status": DomainError(N_("must be one of: %(choices)s"), "status",
                                                          choices=", ".join(DELIVERY_STATUSES))})
        query = query.where(WebhookDelivery.status == status)
    return paginate(query.order_by(WebhookDelivery.id.desc()), page, per_page)


def get_delivery(delivery_id) -> WebhookDelivery:
    return get_or_raise(WebhookDelivery, delivery_id, N_("no such webhook delivery"))


def attempts_of(delivery: WebhookDelivery) -> list[WebhookAttempt]:
    return list(db.session.scalars(select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery.id)
                                   .order_by(WebhookAttempt.id.desc())))


def retry_delivery(actor: User, delivery: WebhookDelivery, now: datetime) -> WebhookDelivery:
    """Send a failed delivery again, now, with a fresh count of attempts (same body, new signature)."""
    _require_admin(actor)
    if delivery.status != "failed":
        raise Conflict(N_("only failed deliveries can be retried"))
    delivery.status, delivery.attempts, delivery.due_at = "pending", 0, now
    db.session.flush()
    audit.record(actor, "webhook.retried", "webhook_delivery", delivery.id, now)
    return delivery


def retry_failed(actor: User, endpoint: WebhookEndpoint, now: datetime) -> int:
    """Every failed delivery of an endpoint back in line: what a receiver missed while it was down too long."""
    _require_admin(actor)
    result = db.session.execute(update(WebhookDelivery).where(
        WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.status == "failed").values(
        status="pending", attempts=0, due_at=now).execution_options(synchronize_session=False))
    count = result.rowcount or 0
    if count:
        audit.record(actor, "webhook.retried", "webhook", endpoint.id, now, deliveries=count)
    db.session.flush()
    return count


def prune(now: datetime, keep_days: int) -> int:
    """Events older than `keep_days` whose deliveries all ended (delivered or failed) go, with them."""
    cutoff = now - timedelta(days=keep_days)
    open_events = select(WebhookDelivery.event_id).where(WebhookDelivery.status.in_(("pending", "sending")))
    result = db.session.execute(WebhookEvent.__table__.delete().where(
        WebhookEvent.created_at < cutoff, WebhookEvent.id.not_in(open_events)))
    return result.rowcount or 0
