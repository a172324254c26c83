"""What a broken promise earns the customer: policies and compensations."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.customers.models import Customer
from crm.extensions import db
from crm.moments.models import Commitment, Moment, MomentType
from crm.types import UTCDateTime, utc_now

KINDS = ("discount", "credit", "gift", "free_service", "apology")
STATUSES = ("proposed", "approved", "issued", "rejected")
MONEY = Numeric(12, 2)


class CompensationPolicy(db.Model):
    """What a breach earns, per moment type and customer tier (either may be "any")."""

    __tablename__ = "compensation_policies"
    id: Mapped[int] = mapped_column(primary_key=True)
    moment_type_id: Mapped[int | None] = mapped_column(ForeignKey("moment_types.id", ondelete="CASCADE"))
    tier: Mapped[str | None] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    # What it costs the business (a 20 € gift may cost 8 €); the value when not given.
    cost: Mapped[Decimal | None] = mapped_column(MONEY)
    requires_approval: Mapped[bool] = mapped_column(Boolean, default=True)
    # Repeated breaches of one customer within the window earn the escalated value.
    escalate_after: Mapped[int | None] = mapped_column(Integer)
    escalation_window_days: Mapped[int] = mapped_column(Integer, default=90)
    escalated_value: Mapped[Decimal | None] = mapped_column(MONEY)
    # Most a customer receives in a period; past it, proposals wait for a person.
    cap_value: Mapped[Decimal | None] = mapped_column(MONEY)
    cap_period_days: Mapped[int] = mapped_column(Integer, default=365)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

    moment_type: Mapped[MomentType | None] = relationship()

    # NULL scopes ("any") are kept unique by the service: SQL treats NULLs as distinct.
    __table_args__ = (UniqueConstraint("moment_type_id", "tier", name="uq_policy_scope"),)


class Compensation(db.Model):
    __tablename__ = "compensations"
    id: Mapped[int] = mapped_column(primary_key=True)
    # One breach earns at most one compensation: the schema says so, not luck.
    commitment_id: Mapped[int | None] = mapped_column(ForeignKey("commitments.id", ondelete="CASCADE"),
                                                      unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    moment_id: Mapped[int | None] = mapped_column(ForeignKey("moments.id", ondelete="SET NULL"))
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("compensation_policies.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[Decimal] = mapped_column(MONEY)
    cost: Mapped[Decimal] = mapped_column(MONEY)
    status: Mapped[str] = mapped_column(String(20), default="proposed")
    reason: Mapped[str] = mapped_column(Text, default="")
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)
    over_cap: Mapped[bool] = mapped_column(Boolean, default=False)
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decision_note: Mapped[str] = mapped_column(Text, default="")
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    customer: Mapped[Customer] = relationship()
    commitment: Mapped[Commitment | None] = relationship()
    moment: Mapped[Moment | None] = relationship()

    __table_args__ = (
        Index("ix_compensations_status_proposed", "status", "proposed_at"),
        Index("ix_compensations_customer_proposed", "customer_id", "proposed_at"),
        # Compensations issued in a period (the rollup, the report) and the first one ever.
        Index("ix_compensations_issued", "issued_at"),
    )


class GoodwillLimit(db.Model):
    """The most a role may grant on the spot, without asking anyone."""

    __tablename__ = "goodwill_limits"
    role: Mapped[str] = mapped_column(String(20), primary_key=True)
    max_value: Mapped[Decimal] = mapped_column(MONEY)
