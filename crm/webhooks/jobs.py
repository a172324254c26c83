"""Boundaries for the scheduler: deliver due webhooks, prune old events. They commit."""
from __future__ import annotations

from datetime import datetime

from crm.extensions import db

# Delivered and failed events stay this long for the delivery log, then go.
KEEP_DAYS = 30


def deliver(now: datetime):
    from crm.webhooks.dispatch import deliver_due

    return deliver_due(now)


def prune(now: datetime) -> int:
    from crm.webhooks.services import prune as prune_events

    pruned = prune_events(now, KEEP_DAYS)
    db.session.commit()
    return pruned
