"""An upload kept between its preview and its import, with its last error file."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db
from crm.types import UTCDateTime

# The states of a run: checked (a dry run, nothing written) → queued (a large file, for the
# scheduler) → running → imported (done) or failed. Small files go from checked to imported
# in the request.
STATUSES = ("checked", "queued", "running", "imported", "failed")


class ImportRun(db.Model):
    """One file uploaded on the imports page: checked (a dry run), then imported.

    The file lives in the database, not on a web server's disk, so the preview and the
    import may be served by different workers or hosts, and the scheduler imports it.
    It is loaded only when read (deferred): the run page polls the rest."""

    __tablename__ = "import_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    filename: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    # How the file was read when uploaded (so later steps do not decode it again to find out).
    encoding: Mapped[str] = mapped_column(String(20))
    delimiter: Mapped[str] = mapped_column(String(1))
    header: Mapped[list | None] = mapped_column(JSON)
    size: Mapped[int | None] = mapped_column(Integer)  # bytes of `content`
    # The field each column of the file is read as (null: ignored), in column order.
    mapping: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default="checked")
    # rows, created, updated, unchanged, rejected: of the check, then of the import so far.
    counts: Mapped[dict] = mapped_column(JSON, default=dict)
    # The rejected rows of the last check or import, as the downloadable CSV.
    errors_csv: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A queued import: who runs it (a token per claim) and its last sign of life, so a run
    # whose scheduler died is taken up again once `heartbeat_at` is stale.
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claim: Mapped[str | None] = mapped_column(String(32))
    attempts: Mapped[int | None] = mapped_column(Integer)
    position: Mapped[int | None] = mapped_column(Integer)  # bytes of the file read so far
    has_errors: Mapped[bool | None] = mapped_column(db.Boolean)

    __table_args__ = (Index("ix_import_runs_created", "created_at"),
                      Index("ix_import_runs_status", "status", "id"))
