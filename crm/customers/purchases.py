"""Purchases: what customers buy, the revenue that feeds loyalty, churn and profitability.

The page, the API and the demo write the same rows; only `record_purchase` checks
what people type. Services flush and never commit.
"""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation
from functools import cache

from babel.numbers import list_currencies
from flask import current_app
from sqlalchemy import func, or_, select, update

from crm import audit
from crm.auth.models import User
from crm.customers.models import Customer, Purchase
from crm.domain import N_, Cleaner
from crm.extensions import db
from crm.pagination import Page, clamp, paginate
from crm.queries import is_id

MAX_AMOUNT = Decimal("1000000")
CENT = Decimal("0.01")
DESCRIPTION_MAX = 500
EARLIEST = date(2000, 1, 1)
# Plain decimals only ("12", "12.5", "12,50"): no exponents, no thousands separators,
# so "1e9" or "1.234,56" are refused instead of being read as something else.
_AMOUNT = re.compile(r"[+-]?[0-9]+(?:[.,][0-9]+)?")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# "No currency" and "testing" are ISO codes, but nobody pays in them.
_NOT_MONEY = {"XXX", "XTS"}


@cache
def currencies() -> frozenset[str]:
    """ISO 4217 codes Babel knows (and can therefore format)."""
    return frozenset(code for code in list_currencies() if len(code) == 3 and code not in _NOT_MONEY)


def clean_amount(c: Cleaner, value) -> Decimal | None:
    """A positive amount of at most two decimals; accepts the decimal comma."""
    if value is None or (isinstance(value, str) and not value.strip()):
        c.fail("amount", N_("is required"))
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        c.fail("amount", N_("must be a number"))
        return None
    if isinstance(value, str):
        text = value.strip()
        if len(text) > 40 or not _AMOUNT.fullmatch(text):
            c.fail("amount", N_("must be a number"))
            return None
        value = text.replace(",", ".")
    try:
        # A float's shortest repr is what its sender wrote (12.1, not 12.0999...).
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, ValueError):
        c.fail("amount", N_("must be a number"))
        return None
    if not number.is_finite() or number <= 0 or number > MAX_AMOUNT:
        c.fail("amount", N_("must be more than 0 and at most %(max)s"), max=MAX_AMOUNT)
        return None
    if number != number.quantize(CENT):
        c.fail("amount", N_("must have at most two decimals"))
        return None
    return number.quantize(CENT)


def clean_currency(c: Cleaner, value) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return current_app.config["CRM_CURRENCY"]
    if not isinstance(value, str):
        c.fail("currency", N_("must be text"))
        return None
    code = value.strip().upper()
    if code not in currencies():
        c.fail("currency", N_("must be a currency code such as EUR or USD"))
        return None
    return code


def clean_purchased_on(c: Cleaner, value, now: datetime) -> date | None:
    """A date or 'YYYY-MM-DD', from 2000 up to tomorrow (today somewhere on Earth)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        c.fail("purchased_on", N_("is required"))
        return None
    day = None
    if isinstance(value, date) and not isinstance(value, datetime):
        day = value
    elif isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            pass
    if day is None:
        c.fail("purchased_on", N_("must be a date (YYYY-MM-DD)"))
        return None
    if not EARLIEST <= day <= now.astimezone(timezone.utc).date() + timedelta(days=1):
        c.fail("purchased_on", N_("cannot be in the future or before 2000"))
        return None
    return day


def _customer(c: Cleaner, value) -> Customer | None:
    if value in (None, ""):
        c.fail("customer_id", N_("is required"))
        return None
    customer = db.session.get(Customer, value) if is_id(value) else None
    if customer is None:
        c.fail("customer_id", N_("no such customer"))
    return customer


def record_purchase(actor: User | None, data: dict, now: datetime) -> Purchase:
    """Record what a customer bought; the purchase counts as activity on its day, and the
    lifecycle rules are applied to the customer right away."""
    c = Cleaner()
    customer = _customer(c, data.get("customer_id"))
    amount = clean_amount(c, data.get("amount"))
    currency = clean_currency(c, data.get("currency"))
    purchased_on = clean_purchased_on(c, data.get("purchased_on"), now)
    description = c.text("description", data.get("description"), max_len=DESCRIPTION_MAX)
    c.check()
    purchase = Purchase(customer_id=customer.id, amount=amount, currency=currency, purchased_on=purchased_on,
                        description=description or "", created_by_id=getattr(actor, "id", None), created_at=now)
    db.session.add(purchase)
    db.session.flush()
    _mark_activity(customer, purchased_on, now)
    audit.record(actor, "purchase.recorded", "purchase", purchase.id, now, customer_id=customer.id,
                 amount=str(amount), currency=currency, purchased_on=purchased_on.isoformat())
    db.session.flush()
    # The lifecycle rules see the purchase at once (first purchase, regular, win-back).
    from crm.customers.automation import evaluate_customer

    evaluate_customer(customer.id, now)
    return purchase


def _mark_activity(customer: Customer, purchased_on: date, now: datetime) -> None:
    """Move `last_activity_at` forward to the purchase's day, never back and never past now.

    One conditional UPDATE, so a contact logged at the same time cannot be overwritten
    by an older instant read before it (PostgreSQL re-checks the condition on the locked row).
    """
    at = min(datetime.combine(purchased_on, time.min, tzinfo=timezone.utc), now)
    db.session.execute(
        update(Customer)
        .where(Customer.id == customer.id,
               or_(Customer.last_activity_at.is_(None), Customer.last_activity_at < at))
        .values(last_activity_at=at)
        .execution_options(synchronize_session="fetch"))


def in_period(stmt, since: date | None, until: date | None):
    if since is not None:
        stmt = stmt.where(Purchase.purchased_on >= since)
    if until is not None:
        stmt = stmt.where(Purchase.purchased_on <= until)
    return stmt


def list_purchases(customer_id: int | None = None, since: date | None = None, until: date | None = None,
                   page: int = 1, per_page: int = 25) -> Page:
    """Purchases newest first, of one customer or all; `since`/`until` are inclusive days."""
    if customer_id is not None and not is_id(customer_id):
        page, per_page = clamp(page, per_page)
        return Page(items=[], total=0, page=page, per_page=per_page)
    stmt = select(Purchase)
    if customer_id is not None:
        stmt = stmt.where(Purchase.customer_id == customer_id)
    stmt = in_period(stmt, since, until)
    return paginate(stmt.order_by(Purchase.purchased_on.desc(), Purchase.id.desc()), page, per_page)


def customer_revenue(customer: Customer, since: date | None = None, until: date | None = None, *,
                     currency: str | None = None) -> Decimal:
    """What the customer spent in one currency (the app's by default), in one SUM."""
    stmt = select(func.sum(Purchase.amount)).where(
        Purchase.customer_id == customer.id,
        Purchase.currency == (currency or current_app.config["CRM_CURRENCY"]))
    total = db.session.scalar(in_period(stmt, since, until))
    return Decimal(total or 0).quantize(CENT)


def revenue_by_currency(customer: Customer) -> dict[str, Decimal]:
    """Every currency the customer paid in and the total, the app's currency first."""
    rows = db.session.execute(
        select(Purchase.currency, func.sum(Purchase.amount))
        .where(Purchase.customer_id == customer.id).group_by(Purchase.currency)).all()
    home = current_app.config["CRM_CURRENCY"]
    return {code: Decimal(total or 0).quantize(CENT)
            for code, total in sorted(rows, key=lambda row: (row[0] != home, row[0]))}
