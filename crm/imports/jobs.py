"""Boundary for the scheduler: import the large files people queued on the imports page.

`run_queued` claims one run with a single UPDATE … WHERE status = 'queued' … RETURNING, so
two schedulers never take the same run; it imports it batch by batch, each batch in its
own transaction together with the run's progress and heartbeat; and marks it imported
(or failed). A run whose scheduler died mid-way keeps status 'running' with a heartbeat
that grows stale: after `LEASE` it is claimed again and imported from the start, where
the batches already committed are found again (customers by email or phone, purchases
and contacts by their import key) and left as they are.
"""
from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update

from crm.auth.models import User
from crm.domain import DomainError
from crm.extensions import db
from crm.imports import runs, services
from crm.imports.models import ImportRun
from crm.types import utc_now

log = logging.getLogger(__name__)
# A batch commits (and beats) every few seconds; a run silent this long lost its scheduler.
LEASE = timedelta(minutes=5)


class LostClaim(Exception):
    """Another scheduler took the run over (this one was silent past the lease)."""


def claim(now: datetime, token: str) -> int | None:
    """Atomically take the oldest queued run (or a running one gone stale): its id, or None."""
    table = ImportRun.__table__
    stale = now - LEASE
    claimable = or_(table.c.status == "queued", and_(table.c.status == "running", table.c.heartbeat_at < stale))
    oldest = select(table.c.id).where(claimable).order_by(table.c.id).limit(1).scalar_subquery()
    stmt = (update(table).where(table.c.id == oldest, claimable)
            .values(status="running", claim=token, heartbeat_at=now,
                    started_at=func.coalesce(table.c.started_at, now),
                    attempts=func.coalesce(table.c.attempts, 0) + 1)
            .returning(table.c.id))
    return db.session.execute(stmt).scalar()


def _ours(run_id: int, token: str):
    table = ImportRun.__table__
    return update(table).where(table.c.id == run_id, table.c.claim == token)


def run_queued(now: datetime, *, clock: Callable[[], datetime] = utc_now, batch_size: int | None = None):
    """Import one queued run; a short summary of it, or None when there was nothing to do.
    Commits (it is a boundary)."""
    token = uuid.uuid4().hex
    run_id = claim(now, token)
    db.session.commit()
    if run_id is None:
        return None
    run = db.session.get(ImportRun, run_id)
    actor = db.session.get(User, run.user_id) if run.user_id else None
    spool = runs.ErrorSpool(runs.header_of(run), run.delimiter)

    def before_commit(counts: dict[str, int], position: int) -> None:
        # In the batch's own transaction: its rows and the progress shown commit together.
        moved = db.session.execute(_ours(run_id, token).values(counts=counts, position=position,
                                                                heartbeat_at=clock()))
        if moved.rowcount != 1:
            raise LostClaim(run_id)

    try:
        summary = services.run_import(
            run.kind, io.BytesIO(run.content), actor=actor, now=now, mapping=runs.mapping_of(run),
            dialect=runs.dialect_of(run), commit=db.session.commit, on_error=spool, before_commit=before_commit,
            keep_errors=0, **({"batch_size": batch_size} if batch_size else {}))
    except services.ImportInterrupted as exc:
        db.session.rollback()
        if isinstance(exc.cause, LostClaim):
            spool.close()
            log.warning("import run %s was taken over by another scheduler", run_id)
            return None
        log.error("import run %s stopped at line %s", run_id, exc.line, exc_info=exc.cause)
        return _fail(run_id, token, {**exc.summary.counts(), "stopped_at_line": exc.line}, spool, clock())
    except DomainError as exc:  # the file cannot be read (past its header) or mapped
        db.session.rollback()
        log.warning("import run %s refused: %s", run_id, exc)
        return _fail(run_id, token, {}, spool, clock())
    except BaseException:
        db.session.rollback()
        spool.close()
        raise
    errors = spool.value()
    done = db.session.execute(_ours(run_id, token).values(
        status="imported", counts=summary.counts(), errors_csv=errors, has_errors=errors is not None,
        position=run.size, finished_at=clock(), claim=None, heartbeat_at=None))
    if done.rowcount != 1:
        db.session.rollback()
        return None
    db.session.commit()
    return f"run {run_id} ({run.kind}): {services.describe(summary)}"


def _fail(run_id: int, token: str, counts: dict[str, int], spool: runs.ErrorSpool, now: datetime):
    errors = spool.value()
    db.session.execute(_ours(run_id, token).values(
        status="failed", counts=counts, errors_csv=errors, has_errors=errors is not None, finished_at=now,
        claim=None, heartbeat_at=None))
    db.session.commit()
    return f"run {run_id} failed"
