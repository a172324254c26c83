"""Uploads on the imports page: kept between the preview (a dry run) and the import.

A file read once at its upload: its encoding, delimiter and header are kept on the run,
so the preview, the checks and the import read it without detecting them again.
Importing a small file happens in the request; a larger one is queued for the
scheduler (crm.imports.jobs), which imports it batch by batch and keeps its progress
on the run for the page to show.

Services flush and never commit; `import_or_queue` takes the caller's `commit` for the
batch boundaries, as `run_import` does.
"""
from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select

from crm.auth.models import User
from crm.domain import N_, Conflict, NotFound
from crm.extensions import db
from crm.imports import reading, services
from crm.imports.fields import KINDS, guess_mapping
from crm.imports.models import ImportRun

KEPT_FOR = timedelta(days=7)  # uploads are personal data: gone a week after their upload
SHOWN_ERRORS = 500  # rejected rows the page lists (and keeps in memory); the error file has them all
# Files with more data rows than this are imported by the scheduler, not in the request.
# Up to here an import is one batch (services.BATCH_SIZE is larger), so one transaction,
# well under a second: the request waits for it. Beyond, a file of 100,000 rows takes
# ten seconds or more on SQLite (more for contacts, on a busy server): past proxies'
# timeouts, holding a web worker and the database's write lock all that time.
INLINE_ROWS = 5000
BUSY = ("queued", "running")


def inline_rows() -> int:
    return current_app.config.get("CRM_IMPORT_INLINE_ROWS", INLINE_ROWS)


def _mapping_list(mapping: dict[int, str], width: int) -> list[str | None]:
    return [mapping.get(i) for i in range(width)]


def mapping_of(run: ImportRun) -> dict[int, str]:
    return {i: name for i, name in enumerate(run.mapping or []) if name}


def dialect_of(run: ImportRun) -> reading.Dialect:
    return reading.Dialect(run.encoding, run.delimiter)


class ErrorSpool:
    """The error file of a check or an import, written row by row as they are rejected:
    in memory up to a megabyte, then in a temporary file, never only the first rows."""

    def __init__(self, header: list[str], delimiter: str):
        self._raw = tempfile.SpooledTemporaryFile(max_size=2**20)
        self._text = io.TextIOWrapper(self._raw, encoding="utf-8", newline="")
        self.file = services.ErrorFile(self._text, header, delimiter)

    def __call__(self, error: services.RowError) -> None:
        self.file(error)

    def value(self) -> bytes | None:
        """The whole CSV (None when no row was rejected); the spool is closed after."""
        if not self.file.count:
            self.close()
            return None
        self._text.flush()
        self._raw.seek(0)
        data = self._raw.read()
        self.close()
        return data

    def close(self) -> None:
        self._text.close()


def record(run: ImportRun, counts: dict[str, int], errors: bytes | None, now: datetime) -> None:
    run.counts = counts
    run.errors_csv = errors
    run.has_errors = errors is not None
    run.finished_at = now


def create_run(actor: User, kind: str, filename: str, content: bytes, now: datetime) -> ImportRun:
    """Keep an upload and check it (a dry run with the columns its header names)."""
    if kind not in KINDS:
        raise services.refuse(N_("Unknown kind of import."))
    db.session.execute(delete(ImportRun).where(ImportRun.created_at < now - KEPT_FOR))
    rows = services.open_file(io.BytesIO(content))
    mapping = guess_mapping(kind, rows.header)
    run = ImportRun(kind=kind, filename=(filename or "import.csv")[:255], user_id=actor.id, created_at=now,
                    content=content, size=len(content), encoding=rows.dialect.encoding,
                    delimiter=rows.dialect.delimiter, header=rows.header,
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


def runs_of(actor: User):
    """The uploads `actor` may see (their own; admins: everybody's), newest first. The files
    and error files are deferred columns: a list does not read them."""
    stmt = select(ImportRun).order_by(ImportRun.created_at.desc(), ImportRun.id.desc())
    if not actor.has_role("admin"):
        stmt = stmt.where(ImportRun.user_id == actor.id)
    return stmt


def recent_runs(actor: User, limit: int = 10) -> list[ImportRun]:
    return list(db.session.scalars(runs_of(actor).limit(limit)))


def header_of(run: ImportRun) -> list[str]:
    """The file's header as read at its upload (runs kept from before it was stored: read now)."""
    if run.header is not None:
        return run.header
    return services.open_file(io.BytesIO(run.content), dialect_of(run)).header


def _refuse_if_started(run: ImportRun) -> None:
    if run.status == "imported":
        raise Conflict(N_("this file has already been imported"))
    if run.status in BUSY:
        raise Conflict(N_("this file is being imported"))


def check_run(actor: User, run: ImportRun, mapping: dict[int, str], now: datetime, *,
              keep_errors: int = SHOWN_ERRORS) -> services.ImportSummary:
    """Dry-run the upload with this column mapping; keep the counts and the whole error file."""
    _refuse_if_started(run)
    spool = ErrorSpool(header_of(run), run.delimiter)
    try:
        summary = services.run_import(run.kind, io.BytesIO(run.content), actor=actor, now=now, mapping=mapping,
                                      dry_run=True, dialect=dialect_of(run), on_error=spool,
                                      keep_errors=keep_errors)
    except BaseException:
        spool.close()
        raise
    run.mapping = _mapping_list(mapping, len(summary.header))
    record(run, summary.counts(), spool.value(), now)
    run.status = "checked"
    db.session.flush()
    return summary


def import_or_queue(actor: User, run: ImportRun, now: datetime,
                    commit: Callable[[], None]) -> services.ImportSummary | None:
    """Import a checked (or failed) upload now when it is small, else queue it for the
    scheduler (None). Conflict when it is imported or being imported already."""
    _refuse_if_started(run)
    if (run.counts or {}).get("rows", 0) > inline_rows():
        queue_run(actor, run, now)
        return None
    return execute_run(actor, run, now, commit)


def queue_run(actor: User, run: ImportRun, now: datetime) -> None:
    """The scheduler imports it as its uploader, from the start (a failed run included:
    rows imported before the failure are found again and left as they are)."""
    _refuse_if_started(run)
    run.status = "queued"
    run.counts = {}
    run.position = 0
    run.claim = run.heartbeat_at = run.started_at = run.finished_at = None
    db.session.flush()


def execute_run(actor: User | None, run: ImportRun, now: datetime, commit: Callable[[], None], *,
                before_commit=None, keep_errors: int = SHOWN_ERRORS) -> services.ImportSummary:
    """Import the upload with its mapping, committing batch by batch."""
    spool = ErrorSpool(header_of(run), run.delimiter)
    try:
        summary = services.run_import(run.kind, io.BytesIO(run.content), actor=actor, now=now,
                                      mapping=mapping_of(run), commit=commit, on_error=spool,
                                      dialect=dialect_of(run), before_commit=before_commit,
                                      keep_errors=keep_errors)
    except BaseException:
        spool.close()
        raise
    record(run, summary.counts(), spool.value(), now)
    run.status = "imported"
    run.position = run.size
    db.session.flush()
    return summary
