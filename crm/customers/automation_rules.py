"""The lifecycle automation's rules: what each one needs, and what a customer's hits mean.

Pure: no Flask, no database. `crm.customers.automation` finds, with one set-based
query per rule, the customers each enabled rule matches (their *hits*), and asks
`decide` what to do with each customer; this module holds every judgement.

The ladder runs prospect < new < active < loyal < promoter, and the loyalty levels
occasional < regular < exclusive < promoter. Rules only ever move customers *up*
the ladder and *up* in loyalty, with two exceptions:

- ``at_risk`` and ``churned`` are reached from any stage of the ladder past
  ``prospect`` (a prospect has no relationship to lose), and ``churned`` from
  ``at_risk`` too; a churned customer is not put back "at risk";
- a customer at risk or churned climbs back onto the ladder (a win-back) only
  through a purchase-based rule, and only for a purchase made after they got there.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from crm.customers.lifecycle import LOYALTY_LEVELS
from crm.domain import N_

LADDER = ("prospect", "new", "active", "loyal", "promoter")
FALLBACK = ("at_risk", "churned")
# Where each fallback stage may be reached from.
FALLBACK_FROM = {
    "at_risk": ("new", "active", "loyal", "promoter"),
    "churned": ("new", "active", "loyal", "promoter", "at_risk"),
}
NPS_PROMOTER = 9  # NPS promoters answer 9 or 10 (DESIGN.md)
CODE_CHARS = re.compile(r"[a-z0-9_-]{1,40}")
MAX_CODES = 20


@dataclass(frozen=True)
class Param:
    """One setting of a rule: a whole number in [low, high], or a list of moment type codes."""

    name: str
    default: int | tuple[str, ...]
    low: int = 1
    high: int = 3660

    @property
    def is_codes(self) -> bool:
        return isinstance(self.default, tuple)


@dataclass(frozen=True)
class RuleSpec:
    code: str
    stage: str
    loyalty: str | None = None
    purchase_based: bool = False
    params: tuple[Param, ...] = ()


DAYS_HIGH = 3660
COUNT_HIGH = 1000

RULES: tuple[RuleSpec, ...] = (
    RuleSpec("first_purchase", "new", purchase_based=True),
    RuleSpec("regular_purchases", "active", "regular", purchase_based=True,
             params=(Param("purchases", 3, 1, COUNT_HIGH), Param("days", 180, 1, DAYS_HIGH))),
    # We cannot see what customers buy elsewhere: "only from us" is read as buying
    # from us in every one of the last M calendar months.
    RuleSpec("exclusive", "loyal", "exclusive", purchase_based=True, params=(Param("months", 6, 1, 36),)),
    RuleSpec("promoter", "promoter", "promoter",
             params=(Param("days", 90, 1, DAYS_HIGH), Param("referral_types", ("recomendacion",)))),
    # The code predates the engine: history rows already name it.
    RuleSpec("survey_detractor", "at_risk", params=(Param("days", 30, 1, DAYS_HIGH),)),
    RuleSpec("repeated_breaches", "at_risk", params=(Param("breaches", 2, 1, COUNT_HIGH),
                                                     Param("days", 30, 1, DAYS_HIGH))),
    RuleSpec("inactivity", "churned", params=(Param("days", 180, 1, DAYS_HIGH),)),
)
RULES_BY_CODE = {rule.code: rule for rule in RULES}
CODES = tuple(RULES_BY_CODE)


@dataclass(frozen=True)
class RuleConfig:
    """A rule as an admin set it: on or off, and its parameters (defaults filled in)."""

    code: str
    enabled: bool
    params: dict = field(default_factory=dict)

    @property
    def spec(self) -> RuleSpec:
        return RULES_BY_CODE[self.code]


def default_params(code: str) -> dict:
    return {p.name: list(p.default) if p.is_codes else p.default for p in RULES_BY_CODE[code].params}


def effective_params(code: str, stored) -> dict:
    """The stored parameters, with the default for any missing or unusable value (a row
    written by an older version, or edited by hand), so a run never fails on them."""
    params = default_params(code)
    if not isinstance(stored, dict):
        return params
    for spec in RULES_BY_CODE[code].params:
        value, problem = _clean_value(spec, stored.get(spec.name))
        if problem is None and value is not None:
            params[spec.name] = value
    return params


def _clean_value(spec: Param, value):
    """(value, None) or (None, (message id, params))."""
    if spec.is_codes:
        if isinstance(value, str):
            value = [part for part in (piece.strip() for piece in value.split(",")) if part]
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            return None, (N_("must be a list of moment type codes"), {})
        codes = []
        for code in value:
            code = code.strip().lower()
            if not CODE_CHARS.fullmatch(code):
                return None, (N_("use lower-case letters, digits, - and _ only"), {})
            if code not in codes:
                codes.append(code)
        if len(codes) > MAX_CODES:
            return None, (N_("at most %(max)d codes"), {"max": MAX_CODES})
        return codes, None
    if isinstance(value, str) and value.strip().isdecimal() and len(value.strip()) <= 6:
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool) or not spec.low <= value <= spec.high:
        return None, (N_("must be a whole number between %(min)d and %(max)d"),
                      {"min": spec.low, "max": spec.high})
    return value, None


def clean_params(code: str, data: dict, current: dict | None = None) -> tuple[dict, dict]:
    """Check an admin's parameters for one rule: (params, {}) or (partial, {name: (message id, params)}).

    Missing names keep their current value; unknown names are refused."""
    spec = RULES_BY_CODE[code]
    params = dict(current or default_params(code))
    errors: dict[str, tuple[str, dict]] = {}
    known = {p.name for p in spec.params}
    for name in sorted(set(data) - known):
        errors[str(name)[:40]] = (N_("this rule has no such setting"), {})
    for p in spec.params:
        if p.name not in data:
            continue
        value, problem = _clean_value(p, data[p.name])
        if problem is not None:
            errors[p.name] = problem
        else:
            params[p.name] = value
    return params, errors


# --- deciding ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Hit:
    """A rule matched a customer: where it would take them, and why (language-neutral)."""

    rule: str
    stage: str
    loyalty: str | None
    reason: str
    purchase_based: bool = False


@dataclass(frozen=True)
class Step:
    """One stage move: where to, by which rule, why."""

    stage: str
    rule: str
    reason: str


@dataclass(frozen=True)
class Decision:
    """At most two stage moves (a climb, then a fall: a prospect who bought once long ago
    is new, then churned), and at most one loyalty change."""

    steps: tuple[Step, ...] = ()
    loyalty: str | None = None
    loyalty_rule: str | None = None

    @property
    def stage(self) -> str | None:
        return self.steps[-1].stage if self.steps else None

    @property
    def stage_rule(self) -> str | None:
        return self.steps[-1].rule if self.steps else None

    @property
    def reason(self) -> str:
        return self.steps[-1].reason if self.steps else ""

    def __bool__(self) -> bool:
        return bool(self.steps) or self.loyalty is not None


def hit(spec: RuleSpec, reason: str) -> Hit:
    return Hit(spec.code, spec.stage, spec.loyalty, reason, spec.purchase_based)


_ORDER = {code: i for i, code in enumerate(CODES)}


def may_move(current: str, target: str, *, win_back: bool = False) -> bool:
    """Whether a rule may move a customer from `current` to `target`.

    Up the ladder only; into at_risk/churned from where FALLBACK_FROM allows; back from
    at_risk/churned onto the ladder only as a win-back (a fresh purchase, purchase rules)."""
    if current == target:
        return False
    if target in FALLBACK:
        return current in FALLBACK_FROM[target]
    if current in FALLBACK:
        return win_back
    return LADDER.index(target) > LADDER.index(current)


def _first(hits: list[Hit], order: tuple[str, ...]) -> Hit | None:
    """The hit going furthest along `order` (the last stage first); earlier rules break ties."""
    return min(hits, key=lambda h: (-order.index(h.stage), _ORDER.get(h.rule, 99)), default=None)


def decide(stage: str, loyalty: str, hits: list[Hit], *, fresh_purchase: bool = False) -> Decision:
    """What the rules do to one customer.

    A fall out of the ladder (churned before at_risk) takes precedence over a climb; among
    climbs the highest stage wins, earlier rules breaking ties. A customer who cannot fall
    from where they are may climb and then fall in the same run, so a second run finds
    nothing left to do.

    `fresh_purchase`: the customer bought after reaching at_risk/churned. Then a
    purchase rule wins them back onto the ladder, as high as any rule that matched takes
    them, unless a rule also found fresh evidence for the fallback stage they are in."""
    steps: list[Step] = []
    current = stage
    falls = [h for h in hits if h.stage in FALLBACK]
    stays = any(h.stage == stage for h in falls)
    if not stays and not any(may_move(stage, h.stage) for h in falls):
        ladder = [h for h in hits if h.stage in LADDER]
        if stage in FALLBACK:
            won_back = fresh_purchase and any(h.purchase_based for h in ladder)
            climb = _first(ladder, LADDER) if won_back else None
        else:
            climb = _first([h for h in ladder if may_move(stage, h.stage)], LADDER)
        if climb is not None:
            suffix = "; win-back" if stage in FALLBACK else ""
            steps.append(Step(climb.stage, climb.rule, climb.reason + suffix))
            current = climb.stage
    fall = _first([h for h in falls if may_move(current, h.stage)], FALLBACK)
    if fall is not None:
        steps.append(Step(fall.stage, fall.rule, fall.reason))
    level = LOYALTY_LEVELS.index(loyalty) if loyalty in LOYALTY_LEVELS else 0
    raises = [h for h in hits if h.loyalty is not None and LOYALTY_LEVELS.index(h.loyalty) > level]
    best = min(raises, key=lambda h: (-LOYALTY_LEVELS.index(h.loyalty), _ORDER.get(h.rule, 99)), default=None)
    return Decision(tuple(steps), best.loyalty if best else None, best.rule if best else None)


# --- calendar months -------------------------------------------------------------------------

def month_index(day: date) -> int:
    """Months since year 0: consecutive months are consecutive numbers."""
    return day.year * 12 + day.month - 1


def month_start(index: int) -> date:
    return date(index // 12, index % 12 + 1, 1)


def exclusive_months(today: date, months: int) -> tuple[int, date, date]:
    """For "a purchase in every one of the last `months` calendar months": the current
    month's index, and the days [first, end) that hold the months that can count.

    Either the `months` months before this one or the `months` months ending with this
    one qualify, so a customer does not wait for the month to end to be recognised, and
    is not missed on the 1st before buying this month."""
    current = month_index(today)
    return current, month_start(current - months), month_start(current + 1)


def buys_every_month(days: list[date], today: date, months: int) -> bool:
    """The same test `automation` runs in SQL, for the unit tests and small lists."""
    current = month_index(today)
    seen = {month_index(d) for d in days}
    before = all(current - k in seen for k in range(1, months + 1))
    ending_now = all(current - k in seen for k in range(0, months))
    return before or ending_now
