"""The dispatcher: claim due rows with a lease, send outside any transaction, mark them.

Claiming is one short transaction (`FOR UPDATE SKIP LOCKED` on PostgreSQL, `BEGIN
IMMEDIATE` + `UPDATE … RETURNING` on SQLite), so two dispatchers never hold the same
row. Sends happen with no transaction open, over one reused connection; rows are
marked sent in small groups. A dispatcher killed between a successful send and its
mark leaves the row `sending`; when the lease expires the row is claimed again and
that message goes out a second time. That window is at most `MARK_EVERY` messages
(or `MARK_SECONDS` of sending), the price of not committing once per message.
"""
from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime as rfc2822
from email.utils import parseaddr

from flask import current_app
from sqlalchemy import or_, select, update

from crm import claims
from crm.customers.models import Customer
from crm.extensions import db
from crm.followups.models import OutboxMessage
from crm.followups.rules import gives_up, retry_delay
from crm.followups.transport import ConnectionLost, PermanentError, TransientError

log = logging.getLogger("crm.dispatch")

BATCH = 200
LEASE = timedelta(minutes=10)
MARK_EVERY = 50
MARK_SECONDS = 0.5
ERROR_MAX = 1000


@dataclass
class DispatchResult:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    cancelled: int = 0

    def __str__(self) -> str:
        return f"{self.sent} sent, {self.retrying} to retry, {self.failed} failed, {self.cancelled} cancelled"


class _Clock:
    """`now` as given (tests and `--now`) advancing with the real clock."""

    def __init__(self, now: datetime):
        self.start, self.mono = now, time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.mono)


def release_expired_leases(connection, now: datetime) -> int:
    """Rows whose dispatcher died (or hung) past its lease go back to `pending`."""
    return claims.release_expired_leases(connection, OutboxMessage.__table__, now)


def _claim(connection, now: datetime, token: str, size: int, lease: timedelta) -> tuple[list, int]:
    table = OutboxMessage.__table__
    c = table.c
    rows = claims.claim_due(connection, table, now, token, size, lease,
                            [c.id, c.kind, c.customer_id, c.to_address, c.message, c.attempts])
    # A marketing message claimed after its customer unsubscribed does not leave.
    marketing = [row.customer_id for row in rows if row.kind == "marketing" and row.customer_id]
    stopped: set[int] = set()
    if marketing:
        stopped = set(connection.scalars(select(Customer.id).where(
            Customer.id.in_(marketing), or_(Customer.unsubscribed_at.is_not(None),
                                            Customer.marketing_consent.is_(False)))))
    cancelled = [row.id for row in rows if row.kind == "marketing" and row.customer_id in stopped]
    if cancelled:
        connection.execute(update(table).where(c.id.in_(cancelled)).values(
            status="cancelled", cancelled_at=now, claimed_by=None, lease_until=None,
            last_error="the customer unsubscribed"))
    connection.commit()
    dropped = set(cancelled)
    return [row for row in rows if row.id not in dropped], len(cancelled)


def _mark_sent(connection, ids: list[int], token: str, now: datetime) -> None:
    if not ids:
        return
    c = OutboxMessage.__table__.c
    # Only rows still ours: after an expired lease another dispatcher may own them.
    connection.execute(update(OutboxMessage.__table__).where(c.id.in_(ids), c.claimed_by == token).values(
        status="sent", sent_at=now, claimed_by=None, lease_until=None, last_error=None))
    connection.commit()


def _mark_failed(connection, failures: list[tuple], token: str, now: datetime, result: DispatchResult) -> None:
    """failures: (id, attempts, error, permanent)."""
    if not failures:
        return
    c = OutboxMessage.__table__.c
    for row_id, attempts, error, permanent in failures:
        values = {"claimed_by": None, "lease_until": None, "last_error": error[:ERROR_MAX]}
        if permanent or gives_up(attempts):
            values["status"] = "failed"
            result.failed += 1
        else:
            values.update(status="pending", due_at=now + retry_delay(attempts))
            result.retrying += 1
        connection.execute(update(OutboxMessage.__table__).where(
            c.id == row_id, c.claimed_by == token).values(**values))
    connection.commit()


def _release(connection, ids: list[int], token: str) -> None:
    """Give back rows this run claimed but did not try: they were not attempted."""
    claims.release_untried(connection, OutboxMessage.__table__, ids, token)


def dispatch(transport, now: datetime, *, batch: int = BATCH, lease: timedelta = LEASE,
             limit: int | None = None) -> DispatchResult:
    """Send what is due at `now` (and stays due while sending), until nothing is due or
    `limit` messages were handled. Opens its own connection and commits its own work."""
    clock = _Clock(now)
    result = DispatchResult()
    envelope_from = parseaddr(current_app.config["CRM_MAIL_FROM"])[1]
    token = secrets.token_hex(8)
    # Stop sending a claimed row well before its lease runs out, so that nobody else
    # can claim it while it is still on its way.
    margin = timedelta(seconds=getattr(getattr(transport, "settings", None), "timeout", 20) + 10)
    try:
        with db.engine.connect() as connection:
            postgres = connection.dialect.name == "postgresql"
            if postgres:
                # A mark lost to a database crash only means that message is sent once
                # more after its lease, the same window as a killed dispatcher; waiting
                # for the disk on every mark would cost a fifth of the throughput.
                connection.exec_driver_sql("SET synchronous_commit TO OFF")
                connection.commit()
            try:
                release_expired_leases(connection, clock())
                _run(connection, transport, clock, token, envelope_from, margin, batch, lease, limit, result)
            finally:
                if postgres:
                    connection.rollback()
                    connection.exec_driver_sql("RESET synchronous_commit")
                    connection.commit()
    finally:
        transport.close()
    return result


def _run(connection, transport, clock: _Clock, token: str, envelope_from: str, margin: timedelta, batch: int,
         lease: timedelta, limit: int | None, result: DispatchResult) -> None:
    handled = 0
    while limit is None or handled < limit:
        size = batch if limit is None else min(batch, limit - handled)
        claimed_at = clock()
        rows, cancelled = _claim(connection, claimed_at, token, size, lease)
        result.cancelled += cancelled
        if not rows:
            return
        lost = _send_batch(connection, transport, rows, token, envelope_from, clock,
                           claimed_at, claimed_at + lease - margin, result)
        handled += len(rows)
        if lost:
            return


def _send_batch(connection, transport, rows: list, token: str, envelope_from: str, clock,
                claimed_at: datetime, lease_end: datetime, result: DispatchResult) -> bool:
    """Send one claimed batch; returns whether the connection to the server was lost.
    Retries are timed from the claim, so a batch's back-off does not depend on its length."""
    sent: list[int] = []
    failures: list[tuple] = []
    untried: list = []
    lost: ConnectionLost | None = None
    last_mark = time.monotonic()
    try:
        for position, row in enumerate(rows):
            if clock() >= lease_end:
                untried = rows[position:]
                break
            message = b"Date: " + rfc2822(clock()).encode() + b"\r\n" + row.message
            try:
                transport.send(envelope_from, row.to_address, message, name=f"{row.id:09d}")
            except ConnectionLost as exc:
                # The server is gone: the rest of the batch waits as if it had failed too.
                lost = exc
                failures.extend((r.id, r.attempts, str(exc), False) for r in rows[position:])
                break
            except PermanentError as exc:
                failures.append((row.id, row.attempts, str(exc), True))
            except TransientError as exc:
                failures.append((row.id, row.attempts, str(exc), False))
            else:
                sent.append(row.id)
                if len(sent) >= MARK_EVERY or time.monotonic() - last_mark >= MARK_SECONDS:
                    _mark_sent(connection, sent, token, clock())
                    result.sent += len(sent)
                    sent, last_mark = [], time.monotonic()
    finally:
        _mark_sent(connection, sent, token, clock())
        result.sent += len(sent)
    _mark_failed(connection, failures, token, claimed_at, result)
    _release(connection, [row.id for row in untried], token)
    if lost:
        log.warning("dispatch stopped: %s", lost)
    return lost is not None
