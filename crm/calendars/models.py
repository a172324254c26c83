"""Business calendars as admins configure them; crm.sla does the arithmetic."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db
from crm.types import UTCDateTime, utc_now


class Calendar(db.Model):
    __tablename__ = "calendars"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    timezone: Mapped[str] = mapped_column(String(64))
    # {"0": [["09:00", "14:00"], ["16:00", "19:00"]], ...}; weekday 0 is Monday
    hours: Mapped[dict] = mapped_column(JSON)
    country: Mapped[str | None] = mapped_column(String(2))
    subdivision: Mapped[str | None] = mapped_column(String(10))
    # The business's own closures, ISO dates
    closures: Mapped[list] = mapped_column(JSON, default=list)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
