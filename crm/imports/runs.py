"""Uploads on the imports page: kept between the preview (a dry run) and the import.

Services flush and never commit; `execute_run` takes the caller's `commit` for the
batch boundaries, as `run_import` does.
"""
from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from crm.auth.models import User
from crm.domain import N_, Conflict, NotFound
from crm.extensions import db
from crm.imports import services
from crm.imports.fields import KINDS, guess_mapping
from crm.imports.models import ImportRun

KEPT_FOR = timedelta(days=7)  # uploads are personal data: gone a week after their upload
SHOWN_ERRORS = 500


def _mapping_list(mapping: dict[int, str], width: int) -> list[str | None]:
    return [mapping.get(i) for i in range(width)]


def _mapping_dict(run: ImportRun) -> dict[int, str]:
    return {i: name for i, name in enumerate(run.mapping or []) if name}


def _record(run: ImportRun, summary: services.ImportSummary, now: datetime) -> None:
    errors = io.StringIO()
    writer = services.ErrorFile(errors, summary.header, summary.dialect.delimiter)
    for error in summary.errors:
        writer(error)
    run.counts = {**summary.counts(), "kept_errors": len(summary.errors)}
    run.errors_csv = errors.getvalue().encode("utf-8") if summary.rejected else None
    run.finished_at = now


def create_run(actor: User, kind: str, filename: str, content: bytes, now: datetime) -> ImportRun:
    """Keep an upload and check it (a dry run with the columns its header names)."""
    if kind not in KINDS:
        raise services.refuse(N_("Unknown kind of import."))
    db.session.execute(delete(ImportRun).where(ImportRun.created_at < now - KEPT_FOR))
    rows = services.open_file(io.BytesIO(content))
    mapping = guess_mapping(kind, rows.header)
    run = ImportRun(kind=kind, filename=(filename or "import.csv")[:255], user_id=actor.id, created_at=now,
                    content=content, encoding=rows.dialect.encoding, delimiter=rows.dialect.delimiter,
                    mapping=_mapping_list(mapping, len(rows.header)), status="checked", counts={})
    db.session.add(run)
    db.session.flush()
    check_run(actor, run, mapping, now)
    return run


def get_run(actor: User, run_id: int) -> ImportRun:
    """A run its uploader (or an admin) may see."""
    run = db.session.get(ImportRun, run_id)
    if run is None or (run.user_id != actor.id and not actor.has_role("admin")):
        raise NotFound(N_("no such import"))
    return run


def recent_runs(actor: User, limit: int = 10) -> list[ImportRun]:
    stmt = select(ImportRun).order_by(ImportRun.created_at.desc(), ImportRun.id.desc()).limit(limit)
    if not actor.has_role("admin"):
        stmt = stmt.where(ImportRun.user_id == actor.id)
    return list(db.session.scalars(stmt))


def header_of(run: ImportRun) -> list[str]:
    return services.open_file(io.BytesIO(run.content)).header


def check_run(actor: User, run: ImportRun, mapping: dict[int, str], now: datetime) -> services.ImportSummary:
    """Dry-run the upload with this column mapping; keep the counts and the error file."""
    if run.status == "imported":
        raise Conflict(N_("this file has already been imported"))
    summary = services.run_import(run.kind, io.BytesIO(run.content), actor=actor, now=now, mapping=mapping,
                                  dry_run=True, keep_errors=10**9 if len(run.content) < 2**21 else 50_000)
    run.mapping = _mapping_list(mapping, len(summary.header))
    _record(run, summary, now)
    run.status = "checked"
    db.session.flush()
    return summary


def execute_run(actor: User, run: ImportRun, now: datetime, commit: Callable[[], None]) -> services.ImportSummary:
    """Import the upload with its mapping, committing batch by batch."""
    if run.status == "imported":
        raise Conflict(N_("this file has already been imported"))
    summary = services.run_import(run.kind, io.BytesIO(run.content), actor=actor, now=now,
                                  mapping=_mapping_dict(run), commit=commit, keep_errors=10**9)
    _record(run, summary, now)
    run.status = "imported"
    db.session.flush()
    return summary
