"""An upload kept between its preview and its import, with its last error file."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db
from crm.types import UTCDateTime


class ImportRun(db.Model):
    """One file uploaded on the imports page: checked (a dry run), then imported.

    The file lives in the database, not on a web server's disk, so the preview and the
    import may be served by different workers or hosts."""

    __tablename__ = "import_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    filename: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    encoding: Mapped[str] = mapped_column(String(20))
    delimiter: Mapped[str] = mapped_column(String(1))
    # The field each column of the file is read as (null: ignored), in column order.
    mapping: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default="checked")
    counts: Mapped[dict] = mapped_column(JSON, default=dict)
    # The rejected rows of the last check or import, as the downloadable CSV.
    errors_csv: Mapped[bytes | None] = mapped_column(LargeBinary)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_import_runs_created", "created_at"),)
