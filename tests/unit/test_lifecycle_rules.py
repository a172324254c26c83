"""The lifecycle automation's pure rules: where a rule may move a customer, what a
customer's hits decide, the settings an admin may give, calendar months."""
from __future__ import annotations

from datetime import date

import pytest

from crm.customers.automation_rules import (
    CODES,
    FALLBACK,
    LADDER,
    RULES_BY_CODE,
    Hit,
    buys_every_month,
    clean_params,
    decide,
    default_params,
    effective_params,
    exclusive_months,
    hit,
    may_move,
    month_index,
    month_start,
)


def h(code, reason="r"):
    return hit(RULES_BY_CODE[code], reason)


# --- may_move ---------------------------------------------------------------------------

@pytest.mark.parametrize("current", LADDER)
def test_the_ladder_is_only_climbed(current):
    for target in LADDER:
        assert may_move(current, target) == (LADDER.index(target) > LADDER.index(current))


@pytest.mark.parametrize("current", ("new", "active", "loyal", "promoter"))
def test_at_risk_and_churned_are_reached_from_the_ladder_past_prospect(current):
    assert may_move(current, "at_risk") and may_move(current, "churned")


def test_prospects_are_never_at_risk_nor_churned_and_churned_is_final_for_risk():
    assert not may_move("prospect", "at_risk") and not may_move("prospect", "churned")
    assert may_move("at_risk", "churned")
    assert not may_move("churned", "at_risk")
    assert not may_move("at_risk", "at_risk") and not may_move("churned", "churned")


@pytest.mark.parametrize("current", FALLBACK)
def test_back_to_the_ladder_only_as_a_win_back(current):
    for target in LADDER:
        assert not may_move(current, target)
        assert may_move(current, target, win_back=True)


# --- decide -----------------------------------------------------------------------------

def test_the_highest_climb_wins_and_loyalty_follows_the_highest_level():
    d = decide("prospect", "occasional", [h("first_purchase"), h("regular_purchases", "3 purchases / 180 d")])
    assert (d.stage, d.stage_rule, d.reason) == ("active", "regular_purchases", "3 purchases / 180 d")
    assert (d.loyalty, d.loyalty_rule) == ("regular", "regular_purchases")
    d = decide("new", "occasional", [h("regular_purchases"), h("exclusive"), h("promoter")])
    assert (d.stage, d.stage_rule, d.loyalty, d.loyalty_rule) == ("promoter", "promoter", "promoter", "promoter")


def test_nothing_moves_down_the_ladder_nor_down_in_loyalty():
    d = decide("loyal", "exclusive", [h("first_purchase"), h("regular_purchases")])
    assert not d and d.stage is None and d.loyalty is None
    # a customer put on "loyal" by hand, still "occasional": loyalty climbs, the stage stays
    d = decide("loyal", "occasional", [h("regular_purchases")])
    assert (d.stage, d.loyalty, d.loyalty_rule) == (None, "regular", "regular_purchases")
    assert not decide("promoter", "promoter", [h("exclusive"), h("promoter")])


def test_falling_out_of_the_ladder_beats_climbing_and_churned_beats_at_risk():
    d = decide("active", "occasional", [h("regular_purchases"), h("survey_detractor", "NPS 3")])
    assert (d.stage, d.stage_rule, d.reason) == ("at_risk", "survey_detractor", "NPS 3")
    assert d.loyalty == "regular"  # buying behaviour is still recorded
    d = decide("active", "regular", [h("repeated_breaches"), h("inactivity"), h("survey_detractor")])
    assert (d.stage, d.stage_rule) == ("churned", "inactivity")
    d = decide("active", "regular", [h("repeated_breaches"), h("survey_detractor")])
    assert d.stage_rule == "survey_detractor"  # ties go to the earlier rule


def test_a_win_back_needs_a_fresh_purchase_and_a_purchase_rule():
    hits = [h("first_purchase", "purchase 2026-11-10"), h("regular_purchases", "3 purchases / 180 d")]
    assert not decide("at_risk", "regular", hits).stage
    d = decide("at_risk", "regular", hits, fresh_purchase=True)
    assert (d.stage, d.stage_rule, d.reason) == ("active", "regular_purchases", "3 purchases / 180 d; win-back")
    d = decide("churned", "occasional", [h("first_purchase", "purchase 2026-11-10")], fresh_purchase=True)
    assert (d.stage, d.reason) == ("new", "purchase 2026-11-10; win-back")
    # the promoter rule is not about buying: it wins nobody back on its own...
    assert not decide("churned", "promoter", [h("promoter")], fresh_purchase=True)
    # ...but once a purchase brings them back, it says how far
    d = decide("at_risk", "regular", hits + [h("promoter", "NPS 10 + referral 2026-11-01")], fresh_purchase=True)
    assert (d.stage, d.stage_rule, d.reason) == ("promoter", "promoter", "NPS 10 + referral 2026-11-01; win-back")
    assert len(d.steps) == 1 and d.loyalty == "promoter"


def test_a_climb_then_a_fall_in_one_run():
    # a prospect who bought once, long ago: new, then churned; nothing left for the next run
    d = decide("prospect", "occasional", [h("first_purchase", "purchase 2026-01-02"), h("inactivity", "quiet")])
    assert [(s.stage, s.rule, s.reason) for s in d.steps] == [("new", "first_purchase", "purchase 2026-01-02"),
                                                              ("churned", "inactivity", "quiet")]
    assert (d.stage, d.stage_rule) == ("churned", "inactivity")
    # won back from churned, and the breaches since then put them at risk
    d = decide("churned", "occasional", [h("first_purchase", "p"), h("repeated_breaches", "b")], fresh_purchase=True)
    assert [(s.stage, s.rule) for s in d.steps] == [("new", "first_purchase"), ("at_risk", "repeated_breaches")]
    # a prospect with nothing but a bad answer stays a prospect
    assert not decide("prospect", "occasional", [h("survey_detractor")])


def test_fresh_evidence_for_the_stage_they_are_in_keeps_them_there():
    d = decide("at_risk", "regular", [h("regular_purchases"), h("survey_detractor")], fresh_purchase=True)
    assert d.stage is None
    d = decide("at_risk", "regular", [h("regular_purchases"), h("inactivity")], fresh_purchase=True)
    assert (d.stage, d.stage_rule) == ("churned", "inactivity")


def test_an_unknown_rule_code_still_decides():
    d = decide("new", "occasional", [Hit("custom", "active", None, "x")])
    assert (d.stage, d.stage_rule, d.loyalty) == ("active", "custom", None)


# --- settings ---------------------------------------------------------------------------

def test_defaults():
    assert default_params("regular_purchases") == {"purchases": 3, "days": 180}
    assert default_params("exclusive") == {"months": 6}
    assert default_params("promoter") == {"days": 90, "referral_types": ["recomendacion"]}
    assert default_params("repeated_breaches") == {"breaches": 2, "days": 30}
    assert default_params("inactivity") == {"days": 180}
    assert default_params("first_purchase") == {}
    assert CODES == ("first_purchase", "regular_purchases", "exclusive", "promoter", "survey_detractor",
                     "repeated_breaches", "inactivity")


def test_clean_params_accepts_numbers_as_text_and_keeps_what_is_left_out():
    params, errors = clean_params("regular_purchases", {"purchases": " 4 "}, {"purchases": 3, "days": 120})
    assert errors == {} and params == {"purchases": 4, "days": 120}
    params, errors = clean_params("promoter", {"referral_types": "Recomendacion, resena,,resena"})
    assert errors == {} and params["referral_types"] == ["recomendacion", "resena"]
    params, errors = clean_params("promoter", {"referral_types": []})
    assert errors == {} and params["referral_types"] == []


@pytest.mark.parametrize(("code", "data", "field"), [
    ("regular_purchases", {"purchases": 0}, "purchases"),
    ("regular_purchases", {"purchases": 1001}, "purchases"),
    ("regular_purchases", {"days": "-3"}, "days"),
    ("regular_purchases", {"days": "1e3"}, "days"),
    ("regular_purchases", {"days": True}, "days"),
    ("regular_purchases", {"days": 3.5}, "days"),
    ("regular_purchases", {"days": None}, "days"),
    ("regular_purchases", {"days": "9" * 40}, "days"),
    ("exclusive", {"months": 37}, "months"),
    ("inactivity", {"days": 3661}, "days"),
    ("promoter", {"referral_types": "a b"}, "referral_types"),
    ("promoter", {"referral_types": ["ok", 3]}, "referral_types"),
    ("promoter", {"referral_types": {"x": 1}}, "referral_types"),
    ("promoter", {"referral_types": ",".join(f"t{i}" for i in range(21))}, "referral_types"),
    ("promoter", {"referral_types": "x\x00"}, "referral_types"),
    ("first_purchase", {"days": 3}, "days"),
])
def test_clean_params_refuses(code, data, field):
    _, errors = clean_params(code, data)
    assert set(errors) == {field}


def test_effective_params_fill_in_what_is_missing_or_broken():
    assert effective_params("regular_purchases", {"purchases": 5, "days": "nonsense"}) == {"purchases": 5, "days": 180}
    assert effective_params("inactivity", None) == {"days": 180}
    assert effective_params("promoter", {"referral_types": ["resena"]})["referral_types"] == ["resena"]


# --- calendar months ------------------------------------------------------------------

def test_months_are_consecutive_numbers():
    assert month_index(date(2026, 1, 31)) - month_index(date(2025, 12, 1)) == 1
    assert month_start(month_index(date(2026, 11, 16))) == date(2026, 11, 1)
    assert month_start(month_index(date(2026, 1, 5)) - 1) == date(2025, 12, 1)


def test_exclusive_window():
    current, first, end = exclusive_months(date(2026, 3, 10), 6)
    assert (first, end) == (date(2025, 9, 1), date(2026, 4, 1))
    assert current == month_index(date(2026, 3, 1))


def test_buys_every_month():
    today = date(2026, 11, 16)
    previous_six = [date(2026, m, 20) for m in range(5, 11)]  # May–October
    assert buys_every_month(previous_six, today, 6)
    assert buys_every_month([date(2026, m, 2) for m in range(6, 12)], today, 6)  # June–November
    assert not buys_every_month([d for d in previous_six if d.month != 7], today, 6)  # a gap in July
    assert not buys_every_month([date(2026, 10, 1)] * 6, today, 6)  # six purchases, one month
    assert buys_every_month([date(2025, 12, 31), date(2026, 1, 1)], date(2026, 2, 3), 2)  # across the new year
