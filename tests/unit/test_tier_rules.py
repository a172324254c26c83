"""The pure tier rule: thresholds, percentiles, validation, and monotonicity."""
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm.customers.lifecycle import TIERS
from crm.insights.tier_rules import Cutoffs, TierRule, clean_rule, cutoffs_from_sorted, ranks, tier_for

D = Decimal
THRESHOLDS = TierRule("thresholds", D("1000"), D("0"))
ORDER = {tier: n for n, tier in enumerate(TIERS)}  # basic < standard < premium


class TestThresholds:
    @pytest.mark.parametrize("profit, tier", [
        ("1000.00", "premium"), ("999.99", "standard"), ("5000", "premium"),
        ("0", "standard"), ("-0.01", "basic"), ("-500", "basic"),
    ])
    def test_edges(self, profit, tier):
        assert tier_for(D(profit), THRESHOLDS) == tier

    def test_cutoffs_are_the_rule_itself(self):
        assert cutoffs_from_sorted([D(5), D(1)], THRESHOLDS) == Cutoffs(D("1000"), D("0"))


class TestPercentiles:
    rule = TierRule("percentiles", D("10"), D("30"))

    def test_ranks_round_down(self):
        assert ranks(100, self.rule) == (10, 40)
        assert ranks(9, self.rule) == (0, 3)  # 10 % of 9 is not one whole customer
        assert ranks(0, self.rule) == (0, 0)
        assert ranks(7, TierRule("percentiles", D("50"), D("50"))) == (3, 7)

    def test_top_shares(self):
        profits = sorted((D(n) for n in range(1, 101)), reverse=True)  # 100 … 1
        cutoffs = cutoffs_from_sorted(profits, self.rule)
        assert cutoffs == Cutoffs(D(91), D(61))
        tiers = [tier_for(p, self.rule, cutoffs) for p in profits]
        assert tiers.count("premium") == 10 and tiers.count("standard") == 30 and tiers.count("basic") == 60

    def test_ties_at_a_cutoff_share_the_better_tier(self):
        profits = [D(50), D(20), D(20), D(20), D(-5)]
        cutoffs = cutoffs_from_sorted(profits, TierRule("percentiles", D("40"), D("20")))
        assert [tier_for(p, self.rule, cutoffs) for p in profits] == \
            ["premium", "premium", "premium", "premium", "basic"]

    def test_too_few_customers_for_a_share_means_nobody_gets_it(self):
        cutoffs = cutoffs_from_sorted([D(100), D(1)], self.rule)
        assert cutoffs == Cutoffs(None, None)
        assert tier_for(D(100), self.rule, cutoffs) == "basic"

    def test_a_percentile_rule_needs_cutoffs(self):
        with pytest.raises(ValueError):
            tier_for(D(1), self.rule)


amounts = st.decimals(min_value=-10**6, max_value=10**6, places=2, allow_nan=False, allow_infinity=False)


@given(low=amounts, high=amounts, premium=amounts, standard=amounts)
def test_more_profit_never_means_a_lower_tier_with_thresholds(low, high, premium, standard):
    low, high = sorted((low, high))
    premium, standard = max(premium, standard), min(premium, standard)
    rule = TierRule("thresholds", premium, standard)
    assert ORDER[tier_for(low, rule)] <= ORDER[tier_for(high, rule)]


@given(profits=st.lists(amounts, min_size=1, max_size=60),
       p=st.integers(min_value=1, max_value=100), q=st.integers(min_value=0, max_value=100))
def test_more_profit_never_means_a_lower_tier_with_percentiles(profits, p, q):
    q = min(q, 100 - p)
    rule = TierRule("percentiles", D(p), D(q))
    ordered = sorted(profits, reverse=True)
    cutoffs = cutoffs_from_sorted(ordered, rule)
    tiers = [ORDER[tier_for(x, rule, cutoffs)] for x in ordered]
    assert tiers == sorted(tiers, reverse=True)
    premium, standard = ranks(len(ordered), rule)
    # At least the share is given (ties can only add to it), and nobody is left out of it.
    assert sum(t == 2 for t in tiers) >= premium
    assert sum(t >= 1 for t in tiers) >= standard


class TestValidation:
    def good(self, **changes):
        data = {"mode": "thresholds", "premium": "1000", "standard": "0", "period_days": "365", "active": True}
        data.update(changes)
        return clean_rule(data)

    def test_a_good_rule(self):
        rule, errors = self.good(premium="1000,5")
        assert errors == {} and rule == TierRule("thresholds", D("1000.50"), D("0.00"), 365, True)

    @pytest.mark.parametrize("changes, field", [
        ({"premium": "0", "standard": "0"}, "premium"),  # X must be more than Y
        ({"premium": "-5", "standard": "0"}, "premium"),
        ({"premium": "abc"}, "premium"),
        ({"standard": "NaN"}, "standard"),
        ({"standard": "Infinity"}, "standard"),
        ({"premium": "1e30"}, "premium"),
        ({"mode": "magic"}, "mode"),
        ({"period_days": "0"}, "period_days"),
        ({"period_days": "99999"}, "period_days"),
        ({"period_days": "1.5"}, "period_days"),
        ({"mode": "percentiles", "premium": "0", "standard": "10"}, "premium"),
        ({"mode": "percentiles", "premium": "101", "standard": "0"}, "premium"),
        ({"mode": "percentiles", "premium": "60", "standard": "50"}, "standard"),
        ({"mode": "percentiles", "premium": "10", "standard": "-1"}, "standard"),
    ])
    def test_bad_rules(self, changes, field):
        rule, errors = self.good(**changes)
        assert rule is None and field in errors

    def test_percentile_edges(self):
        rule, errors = self.good(mode="percentiles", premium="100", standard="0")
        assert errors == {} and (rule.premium, rule.standard) == (D(100), D(0))
        rule, errors = self.good(mode="percentiles", premium="20", standard="80", active=False)
        assert errors == {} and rule.active is False
