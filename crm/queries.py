"""Small query helpers every service uses the same way."""
from __future__ import annotations

from sqlalchemy import select

from crm.domain import NotFound
from crm.extensions import db

# Ids are INTEGER columns: 32 bits on PostgreSQL, where a larger number is an error, not a miss
# (found by schemathesis on PostgreSQL: a 500 for /api/v1/teams/2147483648).
MAX_ID = 2**31 - 1


def is_id(value) -> bool:
    """A positive integer that fits an id column (booleans are not ids)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


def typed_id(value):
    """An id typed as text ("12", " 12 ") as the integer it is; anything else as it came
    (is_id then refuses it). Only what int() reads counts as digits ("²" does not)."""
    if isinstance(value, str) and value.strip().isdecimal() and len(value.strip()) <= 18:
        return int(value.strip())
    return value


def get_or_raise(model, ident, message: str, field: str | None = None):
    """The row with this id, or NotFound with `message` (a gettext id)."""
    row = db.session.get(model, ident) if is_id(ident) else None
    if row is None:
        raise NotFound(message, field)
    return row


def taken_by_other(model, condition, current=None) -> bool:
    """Whether a row other than `current` already matches `condition` (a unique value)."""
    stmt = select(model.id).where(condition)
    if current is not None:
        stmt = stmt.where(model.id != current.id)
    return db.session.scalar(stmt.limit(1)) is not None
