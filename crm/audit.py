"""Audit trail: who changed what, when."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db
from crm.types import UTCDateTime


class AuditEvent(db.Model):
    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(60))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[dict] = mapped_column(JSON, default=dict)

    __table_args__ = (Index("ix_audit_events_entity", "entity", "entity_id"),)


def record(actor, action: str, entity: str, entity_id: int | None, now: datetime, **details) -> AuditEvent:
    event = AuditEvent(
        at=now,
        user_id=getattr(actor, "id", None),
        action=action,
        entity=entity,
        entity_id=entity_id,
        details=details,
    )
    db.session.add(event)
    return event
