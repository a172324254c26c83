"""The moment-of-truth catalog, logged moments and the commitments they create."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.auth.models import Team, User
from crm.calendars.models import Calendar
from crm.customers.models import Customer
from crm.extensions import db
from crm.types import UTCDateTime, utc_now

PHASES = ("discover", "evaluate", "interact", "retain", "refer")
CHANNELS = ("in_person", "phone", "email", "web", "app", "chat", "social", "postal", "partner")
OUTCOMES = ("pending", "resolved", "escalated")
COMMITMENT_KINDS = ("first_response", "resolution")
COMMITMENT_STATUSES = ("open", "paused", "met", "breached")
OPEN_STATUSES = ("open", "paused")
BLUEPRINT_LANES = (
    "physical_evidence",
    "customer_action",
    "frontstage_action",
    "backstage_action",
    "support_process",
)
EMOTIONS = (-2, -1, 0, 1, 2)
# The measurable objective of a moment type: average emotion (−2..+2), share of satisfied
# CSAT answers, share of incidents resolved by the second contact, share of commitments on time.
OBJECTIVE_METRICS = ("emotion", "csat", "fcr_second", "sla")
MONEY = Numeric(12, 2)


class MomentType(db.Model):
    """A configured moment of truth: where it sits in the journey and what we promise."""

    __tablename__ = "moment_types"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    phase: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    # The calendar its service levels run on; none means the company default.
    calendar_id: Mapped[int | None] = mapped_column(ForeignKey("calendars.id", ondelete="SET NULL"))
    # Share of the allowed time after which an open commitment is flagged at risk.
    warn_ratio: Mapped[Decimal] = mapped_column(Numeric(4, 2), default=Decimal("0.75"))
    owner_role: Mapped[str] = mapped_column(String(20), default="agent")
    # [{"who": "Envíos Levante", "does": "delivers and collects the signature"}]
    participants: Mapped[list] = mapped_column(JSON, default=list)
    process: Mapped[str] = mapped_column(Text, default="")
    cost: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    objective: Mapped[str] = mapped_column(Text, default="")
    # The objective as a target: the metric (OBJECTIVE_METRICS) must reach the value (at least).
    objective_metric: Mapped[str | None] = mapped_column(String(20))
    objective_target: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    physical_evidence: Mapped[str] = mapped_column(Text, default="")
    customer_action: Mapped[str] = mapped_column(Text, default="")
    frontstage_action: Mapped[str] = mapped_column(Text, default="")
    backstage_action: Mapped[str] = mapped_column(Text, default="")
    support_process: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

    # Relationships load when used; queries that show them ask for them (joinedload).
    team: Mapped[Team | None] = relationship()
    calendar: Mapped[Calendar | None] = relationship()
    service_levels: Mapped[list["ServiceLevel"]] = relationship(
        back_populates="moment_type",
        cascade="all, delete-orphan",
        order_by="ServiceLevel.tier",
    )

    def service_level_for(self, tier: str) -> "ServiceLevel | None":
        for level in self.service_levels:
            if level.tier == tier:
                return level
        return None


class ServiceLevel(db.Model):
    """The targets a moment type promises to customers of one tier, in hours."""

    __tablename__ = "service_levels"
    id: Mapped[int] = mapped_column(primary_key=True)
    moment_type_id: Mapped[int] = mapped_column(ForeignKey("moment_types.id", ondelete="CASCADE"))
    tier: Mapped[str] = mapped_column(String(20))
    first_response_hours: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    resolution_hours: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))

    moment_type: Mapped[MomentType] = relationship(back_populates="service_levels")

    __table_args__ = (UniqueConstraint("moment_type_id", "tier"),)

    def target_hours(self, kind: str) -> Decimal | None:
        return self.first_response_hours if kind == "first_response" else self.resolution_hours


class Moment(db.Model):
    """One logged contact with a customer."""

    __tablename__ = "moments"
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    moment_type_id: Mapped[int] = mapped_column(ForeignKey("moment_types.id"))
    channel: Mapped[str] = mapped_column(String(20))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    emotion: Mapped[int | None] = mapped_column(SmallInteger)
    notes: Mapped[str] = mapped_column(Text, default="")
    cost: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    outcome: Mapped[str] = mapped_column(String(20), default="pending")
    # The earlier contact this one follows up, and the first contact of the incident,
    # so first-contact resolution is one indexed lookup instead of a walk up the chain.
    follows_moment_id: Mapped[int | None] = mapped_column(
        ForeignKey("moments.id", ondelete="SET NULL")
    )
    incident_id: Mapped[int | None] = mapped_column(Integer, index=True)
    # Kept on an incident's first contact: when the incident was first resolved, and by
    # which of its contacts (1 = on the first contact). Reports count first-contact
    # resolution over a range of these instead of ranking every incident's contacts.
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_contact: Mapped[int | None] = mapped_column(SmallInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    # A contact loaded from a CSV file carries a digest of its content (see Purchase.import_key).
    import_key: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)

    customer: Mapped[Customer] = relationship()
    moment_type: Mapped[MomentType] = relationship()
    staff: Mapped[User | None] = relationship()
    commitments: Mapped[list["Commitment"]] = relationship(back_populates="moment", order_by="Commitment.due_at")

    __table_args__ = (
        Index("ix_moments_customer_occurred", "customer_id", "occurred_at"),
        Index("ix_moments_staff_occurred", "staff_id", "occurred_at"),
        # Incidents resolved in a period, by customer (segment filters) and type (journey map).
        Index("ix_moments_resolved", "resolved_at", "resolved_contact", "customer_id", "moment_type_id"),
        # Period figures (contacts, cost to serve, emotion per touchpoint, profit) read a range of days
        # and only these columns.
        Index("ix_moments_occurred", "occurred_at", "moment_type_id", "customer_id", "cost", "emotion"),
        CheckConstraint("emotion IS NULL OR (emotion >= -2 AND emotion <= 2)", name="emotion_range"),
    )


class Commitment(db.Model):
    """A service-level promise made by a moment, with its due instant."""

    __tablename__ = "commitments"
    id: Mapped[int] = mapped_column(primary_key=True)
    moment_id: Mapped[int] = mapped_column(ForeignKey("moments.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="open")
    # Deadlines are computed on this calendar (none: the default at the time, or clock time).
    calendar_id: Mapped[int | None] = mapped_column(ForeignKey("calendars.id", ondelete="SET NULL"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When it counts as at risk, and when the sweep flagged it so.
    warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Waiting on the customer: the clock stops, keeping the business time that was left.
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    remaining_seconds: Mapped[int | None] = mapped_column(Integer)
    met_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    met_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    moment: Mapped[Moment] = relationship(back_populates="commitments")
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])

    __table_args__ = (
        UniqueConstraint("moment_id", "kind"),
        Index("ix_commitments_status_due", "status", "due_at"),
        # Open commitments past their warning (the dashboard's "at risk"): covering, due_at included.
        Index("ix_commitments_status_warn", "status", "warn_at", "due_at"),
        Index("ix_commitments_owner_status_due", "owner_id", "status", "due_at"),
        Index("ix_commitments_customer", "customer_id"),
        # Service-level compliance counts the commitments that fell due in a period.
        Index("ix_commitments_due", "due_at", "kind", "status", "met_at"),
    )

    def is_overdue(self, now: datetime) -> bool:
        return self.status == "open" and self.due_at <= now

    def is_at_risk(self, now: datetime) -> bool:
        """Past its warning share of the allowed time, not yet due."""
        return (self.status == "open" and self.warn_at is not None and self.warn_at <= now < self.due_at)
