"""The webhook dispatcher: claim due deliveries with a lease, POST them signed, record each answer.

Same shape as the email dispatcher (crm.followups.dispatch): claims are short
transactions, requests go out with no transaction open, and a failure is retried
with the same back-off (30 s doubling to an hour). A 2xx answer delivers; anything
else, including a redirect (never followed), is retried.

A receiver that is down costs one probe per retry, not one per queued event: when
an endpoint cannot be reached, the rest of its deliveries in the batch are put back
untried, due with the probe. Once it answers again, every queued event goes out.
A delivery gives up (`failed`, kept for an admin to retry) only after
`MAX_ATTEMPTS` answers or failures of its own — about three days of a dead receiver.
"""
from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from flask import current_app
from sqlalchemy import insert, select, update

from crm import claims
from crm.extensions import db
from crm.followups.rules import retry_delay
from crm.webhooks import rules
from crm.webhooks.models import RESPONSE_MAX, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent

log = logging.getLogger("crm.webhooks")

BATCH = 100
LEASE = timedelta(minutes=5)
# 30 s, 1, 2 … 32 min, then hourly: 80 attempts span about three days.
MAX_ATTEMPTS = 80
ERROR_MAX = 1000
MARK_EVERY = 20
MARK_SECONDS = 0.5
USER_AGENT = "Fideliza-Webhooks/1"


@dataclass
class DeliveryResult:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    deferred: int = 0

    def __bool__(self) -> bool:
        return bool(self.delivered or self.retrying or self.failed or self.deferred)

    def __str__(self) -> str:
        return (f"{self.delivered} delivered, {self.retrying} to retry, {self.failed} failed, "
                f"{self.deferred} waiting for their endpoint")


@dataclass
class Outcome:
    status_code: int | None
    body: str
    error: str | None
    duration_ms: int
    unreachable: bool = False

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def gives_up(attempts: int) -> bool:
    return attempts >= MAX_ATTEMPTS


def new_client() -> httpx.Client:
    timeout = current_app.config["CRM_WEBHOOK_TIMEOUT"]
    return httpx.Client(timeout=httpx.Timeout(timeout, connect=min(5, timeout)), follow_redirects=False,
                        headers={"User-Agent": USER_AGENT}, trust_env=False)


def post(client: httpx.Client, url: str, secret: str, event_type: str, event_uid: str, delivery_id: int,
         body: bytes, timestamp: int) -> Outcome:
    """One signed POST. Reads at most RESPONSE_MAX bytes of the answer, whatever the receiver sends."""
    headers = {
        "Content-Type": "application/json",
        rules.SIGNATURE_HEADER: rules.signature_header(secret, timestamp, body),
        "Fideliza-Event": event_type,
        "Fideliza-Event-Id": event_uid,
        "Fideliza-Delivery": str(delivery_id),
    }
    started = time.monotonic()
    try:
        with client.stream("POST", url, content=body, headers=headers) as response:
            received = b""
            for chunk in response.iter_bytes():
                received += chunk
                if len(received) >= RESPONSE_MAX:
                    break
            text = received[:RESPONSE_MAX].decode("utf-8", "replace")
            error = None
            if 300 <= response.status_code < 400:
                error = "redirects are not followed: register the final address"
            elif not 200 <= response.status_code < 300:
                error = f"the receiver answered HTTP {response.status_code}"
            return Outcome(response.status_code, text, error, _ms(started))
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        return Outcome(None, "", f"could not connect: {exc}"[:ERROR_MAX], _ms(started), unreachable=True)
    except httpx.TimeoutException as exc:
        return Outcome(None, "", f"no answer in time: {exc or type(exc).__name__}"[:ERROR_MAX], _ms(started),
                       unreachable=True)
    except httpx.HTTPError as exc:
        return Outcome(None, "", f"the request failed: {exc or type(exc).__name__}"[:ERROR_MAX], _ms(started),
                       unreachable=True)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def deliver_due(now: datetime, *, client: httpx.Client | None = None, batch: int = BATCH,
                lease: timedelta = LEASE, limit: int | None = None) -> DeliveryResult:
    """Post what is due at `now` until nothing is due or `limit` deliveries were handled.
    Opens its own connection and commits its own work."""
    result = DeliveryResult()
    token = secrets.token_hex(8)
    own_client = client is None
    client = client or new_client()
    started = time.monotonic()
    try:
        with db.engine.connect() as connection:
            claims.release_expired_leases(connection, WebhookDelivery.__table__, now)
            handled = 0
            # Endpoints that did not answer in this run, and when their deliveries are due again.
            unreachable: dict[int, datetime] = {}
            while limit is None or handled < limit:
                clock = now + timedelta(seconds=time.monotonic() - started)
                size = batch if limit is None else min(batch, limit - handled)
                rows = _claim(connection, clock, token, size, lease)
                if not rows:
                    break
                _send_batch(connection, client, rows, token, clock, clock + lease - _margin(client), unreachable,
                            result)
                handled += len(rows)
    finally:
        if own_client:
            client.close()
    return result


def _margin(client: httpx.Client) -> timedelta:
    """Stop sending a claimed row well before its lease runs out."""
    read = client.timeout.read or 10
    return timedelta(seconds=read + 10)


def _claim(connection, now: datetime, token: str, size: int, lease: timedelta) -> list:
    table = WebhookDelivery.__table__
    c = table.c
    active = select(WebhookEndpoint.id).where(WebhookEndpoint.active.is_(True))
    rows = claims.claim_due(connection, table, now, token, size, lease,
                            [c.id, c.event_id, c.endpoint_id, c.attempts, c.due_at], c.endpoint_id.in_(active))
    connection.commit()
    return sorted(rows, key=lambda row: (row.due_at, row.id))


def _send_batch(connection, client: httpx.Client, rows: list, token: str, claimed_at: datetime,
                lease_end: datetime, unreachable: dict[int, datetime], result: DeliveryResult) -> None:
    events = {row.id: row for row in connection.execute(
        select(WebhookEvent.id, WebhookEvent.uid, WebhookEvent.type, WebhookEvent.body)
        .where(WebhookEvent.id.in_({r.event_id for r in rows})))}
    endpoints = {row.id: row for row in connection.execute(
        select(WebhookEndpoint.id, WebhookEndpoint.url, WebhookEndpoint.secret)
        .where(WebhookEndpoint.id.in_({r.endpoint_id for r in rows})))}
    attempts, finished = [], []
    untried: dict[datetime, list[int]] = {}
    started = last_mark = time.monotonic()
    for row in rows:
        clock = claimed_at + timedelta(seconds=time.monotonic() - started)
        endpoint, event = endpoints.get(row.endpoint_id), events.get(row.event_id)
        if endpoint is None or event is None:
            continue  # deleted meanwhile: its cascade removes the row
        if row.endpoint_id in unreachable or clock >= lease_end:
            untried.setdefault(unreachable.get(row.endpoint_id, claimed_at), []).append(row.id)
            continue
        outcome = post(client, endpoint.url, endpoint.secret, event.type, event.uid, row.id, event.body.encode(),
                       int(clock.timestamp()))
        attempts.append({"delivery_id": row.id, "at": clock, "duration_ms": outcome.duration_ms,
                         "status_code": outcome.status_code, "response_body": outcome.body, "error": outcome.error})
        if outcome.ok:
            finished.append((row.id, {"status": "delivered", "delivered_at": clock, "last_error": None,
                                      "last_status_code": outcome.status_code}))
            result.delivered += 1
        else:
            values = {"last_error": outcome.error, "last_status_code": outcome.status_code}
            if gives_up(row.attempts):
                values["status"] = "failed"
                result.failed += 1
            else:
                values.update(status="pending", due_at=claimed_at + retry_delay(row.attempts))
                result.retrying += 1
                if outcome.unreachable:
                    unreachable[row.endpoint_id] = values["due_at"]
            finished.append((row.id, values))
        # Marked in small groups: a dispatcher killed mid-batch re-sends at most these.
        if len(finished) >= MARK_EVERY or time.monotonic() - last_mark >= MARK_SECONDS:
            _record(connection, token, attempts, finished)
            attempts, finished, last_mark = [], [], time.monotonic()
    _record(connection, token, attempts, finished)
    for due, ids in untried.items():
        claims.release_untried(connection, WebhookDelivery.__table__, ids, token, due_at=due)
        result.deferred += len(ids)


def _record(connection, token: str, attempts: list[dict], finished: list[tuple[int, dict]]) -> None:
    """Attempts and outcomes in one transaction, only on rows still ours."""
    if not finished:
        return
    c = WebhookDelivery.__table__.c
    if attempts:
        connection.execute(insert(WebhookAttempt.__table__), attempts)
    for row_id, values in finished:
        connection.execute(update(WebhookDelivery.__table__).where(c.id == row_id, c.claimed_by == token)
                           .values(claimed_by=None, lease_until=None, **values))
    connection.commit()
