"""Claiming due rows of an outbox-shaped table with a lease, on both engines.

Shared by the email dispatcher and the webhook dispatcher. A table qualifies when it
has `status` ('pending', 'sending', …), `due_at`, `attempts`, `claimed_by` and
`lease_until`, and a partial index on `due_at` for `status IN ('pending', 'sending')`.
Claiming is one short transaction (`FOR UPDATE SKIP LOCKED` on PostgreSQL, `BEGIN
IMMEDIATE` + `UPDATE … RETURNING` on SQLite), so two dispatchers never hold the same row.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Table, select, text, update


def claim_due(connection, table: Table, now: datetime, token: str, size: int, lease: timedelta,
              returning: list, *where) -> list:
    """Mark up to `size` due rows as ours until `now + lease` and return `returning` of each.
    The caller commits (after whatever else belongs to the claim's transaction)."""
    c = table.c
    due = (select(c.id)
           # Literal, so both engines see the partial index's own condition.
           .where(text("status IN ('pending', 'sending')"), c.status == "pending", c.due_at <= now, *where)
           .order_by(c.due_at, c.id).limit(size))
    if connection.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    else:
        # Take SQLite's write lock before reading, so two dispatchers cannot both
        # select the same rows and then queue behind each other's UPDATE.
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    statement = (update(table).where(c.id.in_(due.scalar_subquery()))
                 .values(status="sending", claimed_by=token, lease_until=now + lease, attempts=c.attempts + 1)
                 .returning(*returning))
    return connection.execute(statement).all()


def release_expired_leases(connection, table: Table, now: datetime) -> int:
    """Rows whose dispatcher died (or hung) past its lease go back to `pending`.
    Whatever that dispatcher sent but had not marked is sent again: the duplicate window."""
    c = table.c
    result = connection.execute(update(table).where(c.status == "sending", c.lease_until < now)
                                .values(status="pending", claimed_by=None, lease_until=None))
    connection.commit()
    return result.rowcount


def release_untried(connection, table: Table, ids: list[int], token: str, **values) -> None:
    """Give back rows this run claimed but did not try: the attempt does not count."""
    if not ids:
        return
    c = table.c
    connection.execute(update(table).where(c.id.in_(ids), c.claimed_by == token).values(
        status="pending", claimed_by=None, lease_until=None, attempts=c.attempts - 1, **values))
    connection.commit()
