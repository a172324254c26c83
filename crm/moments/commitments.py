"""When a commitment falls due. Plain clock time for now; business time replaces it."""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal


def due_instant(starts_at: datetime, target_hours: Decimal) -> datetime:
    return starts_at + timedelta(hours=float(target_hours))
