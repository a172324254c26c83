"""The scheduler's heartbeat: one row per scheduler name, overwritten every 30 seconds.

One row keyed by name rather than one per process: readiness asks whether *a* scheduler
is alive, not which one, and a row per process would grow with every restart (new pid)
and need pruning. The host and pid of the last beat still tell an operator which process
is beating; with two schedulers running they simply take turns on the row.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db
from crm.types import UTCDateTime


class SchedulerHeartbeat(db.Model):
    __tablename__ = "scheduler_heartbeats"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
