"""The breach sweep: what is past due breaks, what is close gets flagged, breaks earn compensation."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update

from crm.compensations.services import propose_for_breaches
from crm.extensions import db
from crm.insights import rollup
from crm.moments.models import Commitment
from crm.webhooks import events as webhook_events

BATCH = 5000


@dataclass
class SweepResult:
    breached: int = 0
    at_risk: int = 0
    proposed: int = 0
    issued: int = 0


def sweep_commitments(now: datetime) -> SweepResult:
    """Idempotent by construction: each UPDATE changes only rows still in the state it
    looks for, so a second sweep (or a concurrent one) finds nothing left to do; the
    unique commitment on compensations guards the proposals as well.

    Reads only open commitments, through the (status, due_at) and (status, warn_at) indexes.
    """
    result = SweepResult()
    breached = db.session.execute(
        update(Commitment)
        .where(Commitment.status == "open", Commitment.due_at <= now)
        .values(status="breached", breached_at=Commitment.due_at)
        .returning(Commitment.id, Commitment.due_at, Commitment.kind, Commitment.customer_id, Commitment.moment_id)
        .execution_options(synchronize_session=False)).all()
    breached_ids = [row.id for row in breached]
    rollup.mark_instants(row.due_at for row in breached)
    webhook_events.commitments_breached(breached, now)
    result.breached = len(breached_ids)
    flagged = db.session.execute(
        update(Commitment)
        .where(Commitment.status == "open", Commitment.warned_at.is_(None), Commitment.warn_at <= now)
        .values(warned_at=now)
        .execution_options(synchronize_session=False))
    result.at_risk = flagged.rowcount or 0
    for start in range(0, len(breached_ids), BATCH):
        counts = propose_for_breaches(breached_ids[start:start + BATCH], now)
        result.proposed += counts.proposed
        result.issued += counts.issued
    db.session.flush()
    return result
