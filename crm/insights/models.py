"""Profitability: the admin's tier rule, every tier change, and keep-or-end decisions."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.auth.models import User
from crm.customers.models import Customer
from crm.extensions import db
from crm.types import UTCDateTime

PROFIT = Numeric(14, 2)


class TierRuleSetting(db.Model):
    """The one tier rule (row id 1): thresholds or percentiles, over the last N days."""

    __tablename__ = "tier_rules"
    id: Mapped[int] = mapped_column(primary_key=True)
    mode: Mapped[str] = mapped_column(String(20), default="thresholds")
    premium_value: Mapped[Decimal] = mapped_column(PROFIT)
    standard_value: Mapped[Decimal] = mapped_column(PROFIT)
    period_days: Mapped[int] = mapped_column(Integer, default=365)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    updated_by: Mapped[User | None] = relationship()


class TierChange(db.Model):
    """One move of a customer between service tiers: by a person, or the nightly job (no user)."""

    __tablename__ = "tier_changes"
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    from_tier: Mapped[str | None] = mapped_column(String(20))
    to_tier: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    profit: Mapped[Decimal | None] = mapped_column(PROFIT)
    rule: Mapped[str] = mapped_column(String(200), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    customer: Mapped[Customer] = relationship()
    user: Mapped[User | None] = relationship()

    __table_args__ = (Index("ix_tier_changes_customer_at", "customer_id", "at"),
                      Index("ix_tier_changes_at", "at"))


class CustomerDecision(db.Model):
    """Keep or end an unprofitable customer: who decided, why, and the profit they saw."""

    __tablename__ = "customer_decisions"
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    decision: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(Text)
    profit: Mapped[Decimal | None] = mapped_column(PROFIT)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    customer: Mapped[Customer] = relationship()
    user: Mapped[User | None] = relationship()

    __table_args__ = (Index("ix_customer_decisions_customer_at", "customer_id", "at"),)
