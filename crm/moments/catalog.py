"""The moment-of-truth catalog: admins configure each kind of contact once."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from crm import audit
from crm.auth.models import ROLES, Team, User
from crm.calendars.models import Calendar
from crm.customers.lifecycle import TIERS
from crm.domain import N_, Cleaner, Conflict, Forbidden, NotFound
from crm.extensions import db
from crm.moments.models import BLUEPRINT_LANES, CHANNELS, OBJECTIVE_METRICS, PHASES, MomentType, ServiceLevel
from crm.queries import is_id, taken_by_other

CODE_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_-")
MAX_COST = Decimal("1000000")
MAX_HOURS = Decimal("10000")
MAX_PARTICIPANTS = 20
# What an objective's target may be, per metric: emotion on its −2..+2 scale, the rest percentages.
OBJECTIVE_RANGES = {
    "emotion": (Decimal("-2"), Decimal("2")),
    "csat": (Decimal("0"), Decimal("100")),
    "fcr_second": (Decimal("0"), Decimal("100")),
    "sla": (Decimal("0"), Decimal("100")),
}
OBJECTIVE_LABELS = {
    "emotion": _l("Average emotion"),
    "csat": _l("CSAT: satisfied customers"),
    "fcr_second": _l("Resolved by the second contact"),
    "sla": _l("Commitments kept on time"),
}


def parse_decimal(c: Cleaner, field: str, value, *, maximum: Decimal, required: bool = False):
    if value in (None, ""):
        if required:
            c.fail(field, N_("is required"))
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        c.fail(field, N_("must be a number"))
        return None
    try:
        number = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation:
        c.fail(field, N_("must be a number"))
        return None
    if not number.is_finite() or number < 0 or number > maximum:
        c.fail(field, N_("must be between %(min)s and %(max)s"), min=0, max=maximum)
        return None
    return number.quantize(Decimal("0.01"))


def _clean_participants(c: Cleaner, value) -> list[dict]:
    if value in (None, ""):
        return []
    if not isinstance(value, list) or len(value) > MAX_PARTICIPANTS:
        c.fail("participants", N_("must be a list of at most %(max)d entries"), max=MAX_PARTICIPANTS)
        return []
    cleaned = []
    for item in value:
        if not isinstance(item, dict):
            c.fail("participants", N_("each participant needs who and what they do"))
            return []
        who = c.text("participants", item.get("who"), max_len=120, required=True)
        does = c.text("participants", item.get("does"), max_len=500)
        if who:
            cleaned.append({"who": who, "does": does or ""})
    return cleaned


def _clean_levels(c: Cleaner, value) -> list[dict]:
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        c.fail("service_levels", N_("must be a list"))
        return []
    levels, seen = [], set()
    for item in value:
        if not isinstance(item, dict) or item.get("tier") not in TIERS:
            c.fail("service_levels", N_("each service level needs a tier: %(choices)s"),
                   choices=", ".join(TIERS))
            return []
        if item["tier"] in seen:
            c.fail("service_levels", N_("a tier appears twice"))
            return []
        seen.add(item["tier"])
        levels.append({
            "tier": item["tier"],
            "first_response_hours": parse_decimal(c, "service_levels", item.get("first_response_hours"),
                                                  maximum=MAX_HOURS),
            "resolution_hours": parse_decimal(c, "service_levels", item.get("resolution_hours"),
                                              maximum=MAX_HOURS),
        })
    return levels


def _target_number(c: Cleaner, value) -> Decimal | None:
    """A target as typed: may be negative (an emotion); its range depends on the metric."""
    if value in (None, ""):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        c.fail("objective_target", N_("must be a number"))
        return None
    try:
        number = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation:
        c.fail("objective_target", N_("must be a number"))
        return None
    if not number.is_finite() or abs(number) > 1000:
        c.fail("objective_target", N_("must be a number"))
        return None
    return number.quantize(Decimal("0.01"))


def _check_objective(fields: dict, moment_type: MomentType | None) -> None:
    """A target needs its metric and a metric its target, in the metric's range. A partial
    update is checked against the values it keeps."""
    if "objective_metric" not in fields and "objective_target" not in fields:
        return
    metric = fields.get("objective_metric", moment_type.objective_metric if moment_type else None)
    target = fields.get("objective_target", moment_type.objective_target if moment_type else None)
    c = Cleaner()
    if metric is None and target is not None:
        c.fail("objective_metric", N_("choose what the target measures"))
    elif metric is not None and target is None:
        c.fail("objective_target", N_("is required"))
    elif metric is not None:
        low, high = OBJECTIVE_RANGES[metric]
        if not low <= target <= high:
            c.fail("objective_target", N_("must be between %(min)s and %(max)s"), min=low, max=high)
    c.check()


def _clean(data: dict, *, creating: bool) -> dict:
    c = Cleaner()
    out: dict = {}

    def given(key):
        return creating or key in data

    if given("code"):
        code = c.text("code", data.get("code"), max_len=40, required=True)
        if code and not set(code) <= CODE_CHARS:
            c.fail("code", N_("use lower-case letters, digits, - and _ only"))
        out["code"] = code
    if given("name"):
        out["name"] = c.text("name", data.get("name"), max_len=120, required=True)
    if given("phase"):
        out["phase"] = c.choice("phase", data.get("phase"), PHASES)
    if given("channel"):
        out["channel"] = c.choice("channel", data.get("channel"), CHANNELS)
    if given("owner_role"):
        out["owner_role"] = c.choice("owner_role", data.get("owner_role") or "agent", ROLES)
    if given("team_id"):
        team_id = data.get("team_id")
        if team_id in (None, "", 0):
            out["team_id"] = None
        elif not is_id(team_id) or db.session.get(Team, team_id) is None:
            c.fail("team_id", N_("no such team"))
        else:
            out["team_id"] = team_id
    if given("calendar_id"):
        calendar_id = data.get("calendar_id")
        if calendar_id in (None, "", 0):
            out["calendar_id"] = None
        elif not is_id(calendar_id) or db.session.get(Calendar, calendar_id) is None:
            c.fail("calendar_id", N_("no such calendar"))
        else:
            out["calendar_id"] = calendar_id
    if given("warn_ratio"):
        ratio = parse_decimal(c, "warn_ratio", data.get("warn_ratio"), maximum=Decimal("1"))
        out["warn_ratio"] = Decimal("0.75") if ratio is None else ratio
    if given("cost"):
        out["cost"] = parse_decimal(c, "cost", data.get("cost"), maximum=MAX_COST) or Decimal("0.00")
    for key in ("process", "objective", *BLUEPRINT_LANES):
        if given(key):
            out[key] = c.text(key, data.get(key), max_len=4000, multiline=True) or ""
    if given("objective_metric"):
        out["objective_metric"] = c.choice("objective_metric", data.get("objective_metric") or None,
                                           OBJECTIVE_METRICS, required=False)
    if given("objective_target"):
        out["objective_target"] = _target_number(c, data.get("objective_target"))
    if given("participants"):
        out["participants"] = _clean_participants(c, data.get("participants"))
    if given("service_levels"):
        out["service_levels"] = _clean_levels(c, data.get("service_levels"))
    if "active" in data:
        out["active"] = bool(data["active"])
    c.check()
    return out


def save_moment_type(actor: User, moment_type: MomentType | None, data: dict, now: datetime) -> MomentType:
    if not actor.has_role("admin"):
        raise Forbidden(N_("only admins manage the moment catalog"))
    fields = _clean(data, creating=moment_type is None)
    _check_objective(fields, moment_type)
    if "code" in fields and taken_by_other(MomentType, MomentType.code == fields["code"], moment_type):
        raise Conflict(N_("a moment type with that code already exists"), "code")
    levels = fields.pop("service_levels", None)
    if moment_type is None:
        moment_type = MomentType(created_at=now)
        db.session.add(moment_type)
    for key, value in fields.items():
        setattr(moment_type, key, value)
    if levels is not None:
        _replace_levels(moment_type, levels)
    db.session.flush()
    audit.record(actor, "moment_type.saved", "moment_type", moment_type.id, now, code=moment_type.code)
    return moment_type


def _replace_levels(moment_type: MomentType, levels: list[dict]) -> None:
    by_tier = {level.tier: level for level in moment_type.service_levels}
    wanted = {level["tier"] for level in levels}
    for tier, level in by_tier.items():
        if tier not in wanted:
            moment_type.service_levels.remove(level)
    for item in levels:
        level = by_tier.get(item["tier"])
        if level is None:
            level = ServiceLevel(tier=item["tier"])
            moment_type.service_levels.append(level)
        level.first_response_hours = item["first_response_hours"]
        level.resolution_hours = item["resolution_hours"]


def list_moment_types(*, include_inactive: bool = False) -> list[MomentType]:
    stmt = select(MomentType).options(selectinload(MomentType.service_levels), joinedload(MomentType.team)) \
        .order_by(MomentType.phase, MomentType.name)
    if not include_inactive:
        stmt = stmt.where(MomentType.active.is_(True))
    return list(db.session.scalars(stmt))


def moment_type_choices() -> list:
    """(code, name, phase) of the types in use, for the log form's chooser."""
    return list(db.session.execute(
        select(MomentType.code, MomentType.name, MomentType.phase).where(MomentType.active.is_(True))
        .order_by(MomentType.phase, MomentType.name)))


def get_moment_type(ref) -> MomentType:
    """A moment type by id (int) or code (str)."""
    if isinstance(ref, int) and not isinstance(ref, bool):
        moment_type = db.session.get(MomentType, ref) if is_id(ref) else None
    elif isinstance(ref, str) and ref and "\x00" not in ref:
        # PostgreSQL refuses NUL bytes in text outright (a 500); no code holds one anyway.
        moment_type = db.session.scalar(select(MomentType).where(MomentType.code == ref[:40]))
    else:
        moment_type = None
    if moment_type is None:
        raise NotFound(N_("no such moment type"), "moment_type")
    return moment_type
