"""Service tiers from profitability: pure rules, no Flask, no database.

Two kinds of rule, both set by an admin:

- ``thresholds``: profit ≥ ``premium`` → premium, ≥ ``standard`` → standard, else basic
  (amounts in the company's currency);
- ``percentiles``: the top ``premium`` percent of customers by profit are premium, the
  next ``standard`` percent standard, the rest basic.

Either way a rule boils down to two cutoffs (the least profit that still earns premium
and standard), so a customer's tier depends on their profit only: more profit never
means a lower tier. Customers tied at a cutoff share the better tier.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from crm.domain import N_

MODES = ("thresholds", "percentiles")
MIN_DAYS, MAX_DAYS = 1, 3660
# Profits and thresholds are money columns of at most 12 digits, two of them decimals.
MAX_AMOUNT = Decimal("9999999999.99")


@dataclass(frozen=True)
class TierRule:
    mode: str
    premium: Decimal  # thresholds: least profit for premium; percentiles: share of customers (P)
    standard: Decimal  # thresholds: least profit for standard; percentiles: next share (Q)
    period_days: int = 365
    active: bool = True

    def describe(self) -> str:
        """A short, language-neutral description kept with every tier change."""
        if self.mode == "thresholds":
            return f"thresholds: premium >= {self.premium}, standard >= {self.standard}"
        return f"percentiles: top {self.premium}% premium, next {self.standard}% standard"


@dataclass(frozen=True)
class Cutoffs:
    """The least profit for each tier; None means nobody reaches it."""

    premium: Decimal | None
    standard: Decimal | None


def tier_for(profit: Decimal, rule: TierRule, cutoffs: Cutoffs | None = None) -> str:
    """A customer's tier for their profit. Threshold rules carry their own cutoffs;
    percentile rules need the ones computed from everybody's profit (`ranks` + a lookup)."""
    if cutoffs is None:
        if rule.mode != "thresholds":
            raise ValueError("a percentile rule needs the cutoffs of the current profits")
        cutoffs = Cutoffs(rule.premium, rule.standard)
    if cutoffs.premium is not None and profit >= cutoffs.premium:
        return "premium"
    if cutoffs.standard is not None and profit >= cutoffs.standard:
        return "standard"
    return "basic"


def ranks(count: int, rule: TierRule) -> tuple[int, int]:
    """For a percentile rule over `count` customers: how many (at least) are premium, and
    how many are premium or standard. Rounded down, so a share is never exceeded but by ties."""
    premium = int(count * rule.premium / 100)
    standard = int(count * (rule.premium + rule.standard) / 100)
    return premium, min(standard, count)


def cutoffs_from_sorted(profits_desc: list[Decimal], rule: TierRule) -> Cutoffs:
    """Cutoffs from every customer's profit, highest first (the database does the same
    with ORDER BY … OFFSET; this version serves the tests and small lists)."""
    if rule.mode == "thresholds":
        return Cutoffs(rule.premium, rule.standard)
    premium, standard = ranks(len(profits_desc), rule)
    return Cutoffs(profits_desc[premium - 1] if premium else None,
                   profits_desc[standard - 1] if standard else None)


def _amount(value):
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        number = Decimal(value)
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip().replace(",", "."))
        except InvalidOperation:
            return None
    else:
        return None
    return number if number.is_finite() else None


def clean_rule(data: dict) -> tuple[TierRule | None, dict[str, tuple[str, dict]]]:
    """Check an admin's rule: (rule, {}) or (None, {field: (message id, params)})."""
    errors: dict[str, tuple[str, dict]] = {}
    mode = data.get("mode")
    if mode not in MODES:
        errors["mode"] = (N_("must be one of: %(choices)s"), {"choices": ", ".join(MODES)})
    premium, standard = _amount(data.get("premium")), _amount(data.get("standard"))
    for field, value in (("premium", premium), ("standard", standard)):
        if value is None:
            errors[field] = (N_("must be a number"), {})
        elif abs(value) > MAX_AMOUNT:
            errors[field] = (N_("is too large"), {})
    days = data.get("period_days")
    if isinstance(days, str) and days.strip().isdecimal():
        days = int(days.strip())
    if not isinstance(days, int) or isinstance(days, bool) or not MIN_DAYS <= days <= MAX_DAYS:
        errors["period_days"] = (N_("must be a whole number between %(min)d and %(max)d"),
                                 {"min": MIN_DAYS, "max": MAX_DAYS})
    if errors:
        return None, errors
    premium, standard = premium.quantize(Decimal("0.01")), standard.quantize(Decimal("0.01"))
    if mode == "thresholds":
        if premium <= standard:
            errors["premium"] = (N_("must be more than the profit for standard"), {})
    else:
        if not 0 < premium <= 100:
            errors["premium"] = (N_("must be more than 0 and at most 100"), {})
        if standard < 0:
            errors["standard"] = (N_("must not be negative"), {})
        elif premium + standard > 100:
            errors["standard"] = (N_("premium and standard together must be at most 100 percent"), {})
    if errors:
        return None, errors
    return TierRule(mode, premium, standard, days, bool(data.get("active"))), {}
