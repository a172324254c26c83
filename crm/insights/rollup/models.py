"""The rollup's tables: what a day holds, which days are built, which changed since."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, Index, Integer, Numeric, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db
from crm.types import UTCDateTime

MONEY = Numeric(14, 2)
ADVISORY_LOCK = 0x0F1D311A  # PostgreSQL: one refresh at a time, across schedulers


class RollupDay(db.Model):
    """A local day whose rows were built, and for which time zone."""

    __tablename__ = "rollup_days"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    zone: Mapped[str] = mapped_column(String(64))
    built_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RollupDirty(db.Model):
    """A day some write changed since it was built: insert-only, one row per writing transaction."""

    __tablename__ = "rollup_dirty"
    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)


class TouchpointDay:
    """The keys of a touchpoint's day: the local day, the contact's moment type and channel
    (none for what concerns no contact), and the customer's segment and tier."""

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    moment_type_id: Mapped[int | None] = mapped_column(Integer)
    channel: Mapped[str | None] = mapped_column(String(20))
    segment: Mapped[str | None] = mapped_column(String(60))
    tier: Mapped[str | None] = mapped_column(String(20))


class RollupFigures(TouchpointDay, db.Model):
    __tablename__ = "rollup_figures"
    contacts: Mapped[int] = mapped_column(Integer, default=0)
    contact_cost: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    emotion_sum: Mapped[int] = mapped_column(Integer, default=0)
    emotions: Mapped[int] = mapped_column(Integer, default=0)
    resolved: Mapped[int] = mapped_column(Integer, default=0)
    resolved_first: Mapped[int] = mapped_column(Integer, default=0)
    resolved_second: Mapped[int] = mapped_column(Integer, default=0)
    first_response_on_time: Mapped[int] = mapped_column(Integer, default=0)
    first_response_late: Mapped[int] = mapped_column(Integer, default=0)
    resolution_on_time: Mapped[int] = mapped_column(Integer, default=0)
    resolution_late: Mapped[int] = mapped_column(Integer, default=0)
    compensations: Mapped[int] = mapped_column(Integer, default=0)
    compensation_value: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    compensation_cost: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))

    __table_args__ = (Index("ix_rollup_figures_day", "day", "moment_type_id"),)


class RollupAnswers(TouchpointDay, db.Model):
    __tablename__ = "rollup_answers"
    kind: Mapped[str] = mapped_column(String(10))
    score: Mapped[int] = mapped_column(SmallInteger)
    answers: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_rollup_answers_day", "day"),)


class RollupRevenue(db.Model):
    __tablename__ = "rollup_revenue"
    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    segment: Mapped[str | None] = mapped_column(String(60))
    tier: Mapped[str | None] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    purchases: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(MONEY)

    __table_args__ = (Index("ix_rollup_revenue_day", "day"),)


class RollupCustomers(db.Model):
    """Customers per day of creation and of churning, by segment, tier and signup month
    (`cohort`): `created` counts new customers; `present` adds one for a new customer not
    created as churned and for a move out of churned, and takes one for a move into it, so
    its sum over the days before an instant counts the customers then not churned."""

    __tablename__ = "rollup_customers"
    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    segment: Mapped[str | None] = mapped_column(String(60))
    tier: Mapped[str | None] = mapped_column(String(20))
    cohort: Mapped[date] = mapped_column(Date)
    created: Mapped[int] = mapped_column(Integer)
    present: Mapped[int] = mapped_column(Integer)

    # Covering: the sums over every day before an instant read the index alone.
    __table_args__ = (Index("ix_rollup_customers_day", "day", "segment", "tier", "cohort", "created", "present"),)


FIGURE_MEASURES = ("contacts", "contact_cost", "emotion_sum", "emotions", "resolved", "resolved_first",
                   "resolved_second", "first_response_on_time", "first_response_late", "resolution_on_time",
                   "resolution_late", "compensations", "compensation_value", "compensation_cost")
DIMENSIONS = ("moment_type_id", "channel", "segment", "tier")
