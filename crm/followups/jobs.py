"""Boundaries for scheduled follow-up work (the scheduler and the CLI call these): they commit.

Planning commits after every step, so on SQLite the write lock is held only while a
step's rows are inserted, never while the next step renders its messages.
"""
from __future__ import annotations

from datetime import datetime

from crm.extensions import db

PLAN_STEP = 500
PLAN_CAP = 5000


def plan(now: datetime, *, step: int = PLAN_STEP, cap: int = PLAN_CAP) -> int:
    """Write due renewal and quiet-customer messages, `step` at a time, at most `cap` per run."""
    from crm.followups.services import plan_followups

    total = 0
    while total < cap:
        wanted = min(step, cap - total)
        written = plan_followups(now, limit=wanted)
        db.session.commit()
        total += written
        if written < wanted:
            break
    return total
