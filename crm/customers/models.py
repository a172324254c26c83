"""Customers, their stage history and the search index behind the type-ahead."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import DDL, JSON, Boolean, Date, ForeignKey, Index, Integer, Numeric, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from crm.auth.models import User
from crm.customers import search
from crm.customers.lifecycle import DEFAULT_TIER
from crm.extensions import db
from crm.types import UTCDateTime, utc_now

# Byte-wise ordering on PostgreSQL so prefix ranges use the index like they do on SQLite.
SEARCH_TERM = String(120).with_variant(String(120, collation="C"), "postgresql")
SORT_KEY = String(200).with_variant(String(200, collation="C"), "postgresql")


class Customer(db.Model):
    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # The name without accents or case, so lists sort as people expect on every engine.
    sort_name: Mapped[str] = mapped_column(SORT_KEY)
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    # What spellings of one phone share (search.phone_key): imports match customers by it.
    # Set whenever `phone` is (see `_phone_key`); bulk inserts give it themselves.
    phone_key: Mapped[str | None] = mapped_column(String(20), index=True)
    company: Mapped[str | None] = mapped_column(String(200))
    segment: Mapped[str | None] = mapped_column(String(60), index=True)
    stage: Mapped[str] = mapped_column(String(20), default="prospect", index=True)
    loyalty: Mapped[str] = mapped_column(String(20), default="occasional")
    tier: Mapped[str] = mapped_column(String(20), default=DEFAULT_TIER)
    language: Mapped[str] = mapped_column(String(5), default="es")
    marketing_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set when the customer says stop; no marketing email is written or sent after it.
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    renewal_date: Mapped[date | None] = mapped_column(Date, index=True)
    # The last contact (or purchase), kept here so "quiet for N days" is one indexed range.
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    # Set when the customer's personal data was erased on request (crm/privacy).
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    owner: Mapped[User | None] = relationship()

    __table_args__ = (Index("ix_customers_sort_name", "sort_name", "id"),
                      Index("ix_customers_created", "created_at"))

    @validates("phone")
    def _phone_key(self, _key, phone: str | None) -> str | None:
        self.phone_key = search.phone_key(phone)
        return phone


class StageChange(db.Model):
    """One move of a customer between lifecycle stages: by a person or a named rule."""

    __tablename__ = "stage_changes"
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    from_stage: Mapped[str | None] = mapped_column(String(20))
    to_stage: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    rule: Mapped[str | None] = mapped_column(String(80))
    reason: Mapped[str] = mapped_column(Text, default="")

    user: Mapped[User | None] = relationship()

    __table_args__ = (
        Index("ix_stage_changes_customer_at", "customer_id", "at"),
        # "Who moved to churned (or at risk) in this period": the dashboard and churn.
        Index("ix_stage_changes_to_at", "to_stage", "at"),
        # The first stage change ever (the rollup's first day) and changes in a period.
        Index("ix_stage_changes_at", "at"),
    )


class CustomerSearchTerm(db.Model):
    """Normalised words of a customer's name, company, email and phone.

    A prefix range on this table is indexed, where a ``LIKE '%q%'`` over customers
    would scan the whole table. On SQLite the terms live in an FTS5 table instead and
    this one stays empty (crm.customers.search_index says why).
    """

    __tablename__ = "customer_search_terms"
    term: Mapped[str] = mapped_column(SEARCH_TERM, primary_key=True)
    # No foreign key: like SQLite's FTS5 index, this is derived data that the code keeps,
    # and a trigger removes a deleted customer's terms (search_index.CREATE_PG_TRIGGER). The
    # key's check, row by row, took two thirds of the time an import spent writing terms.
    customer_id: Mapped[int] = mapped_column(Integer, primary_key=True, index=True)

    # On SQLite the rows live in the primary key's own B-tree (no rowid table beside it):
    # one index write less per term, a third less disk, the same prefix scans.
    __table_args__ = {"sqlite_with_rowid": False}


class Purchase(db.Model):
    """A revenue record: what the customer bought, when, for how much."""

    __tablename__ = "purchases"
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3))
    purchased_on: Mapped[date] = mapped_column(Date)
    description: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    # A row loaded from a CSV file carries a digest of its content: loading the same file
    # again finds it and adds nothing (crm/imports).
    import_key: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)

    customer: Mapped[Customer] = relationship()

    __table_args__ = (
        Index("ix_purchases_customer_on", "customer_id", "purchased_on"),
        Index("ix_purchases_on", "purchased_on"),
    )


class LifecycleRule(db.Model):
    """One rule of the lifecycle automation (see crm/customers/automation.py): on or off,
    and its parameters (windows in days or months, counts, referral moment types)."""

    __tablename__ = "lifecycle_rules"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    updated_by: Mapped[User | None] = relationship()


def _search_index_ddl() -> None:
    """create_all and drop_all make SQLite's FTS5 search index, and PostgreSQL's trigger that
    takes a deleted customer's terms away, with the customers table (the migrations make
    them themselves)."""
    from crm.customers import search_index

    table = Customer.__table__
    for dialect, create, drop in (
            ("sqlite", (search_index.CREATE_FTS, search_index.CREATE_TRIGGER), search_index.DROP),
            ("postgresql", (search_index.CREATE_PG_FUNCTION, search_index.CREATE_PG_TRIGGER),
             search_index.DROP_PG)):
        for statement in create:
            event.listen(table, "after_create", DDL(statement).execute_if(dialect=dialect))
        for statement in drop:
            event.listen(table, "before_drop", DDL(statement).execute_if(dialect=dialect))


_search_index_ddl()
