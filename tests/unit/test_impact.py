"""The impact arithmetic without a database: rates, direct standardisation, differences, medians."""
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm.insights import impact
from crm.insights.impact import Stratum, Tally, default_period, difference, median_instant, rates, standardised

UTC = timezone.utc


def tally(customers, buyers=0, purchases=0, revenue="0", churned=0, other=0):
    return Tally(customers, buyers, purchases, Decimal(revenue), churned, other)


class TestRates:
    def test_a_groups_own_rates(self):
        # 4 customers, 3 bought 7 times for 100.00, 1 churned
        assert rates(tally(4, 3, 7, "100.00", 1)) == {
            "bought": 75.0, "purchases": 1.75, "revenue": Decimal("25.00"), "churned": 25.0}

    def test_nobody_has_no_rates_not_zero(self):
        assert rates(Tally()) == {"bought": None, "purchases": None, "revenue": None, "churned": None}

    def test_revenue_per_customer_in_cents(self):
        assert rates(tally(3, 1, 1, "100.00"))["revenue"] == Decimal("33.33")
        assert rates(tally(3, 2, 2, "200.00"))["revenue"] == Decimal("66.67")


class TestStandardisation:
    def test_reweighted_to_the_exposed_mix(self):
        # Comparable: stratum A 1 of 4 bought (25 %), stratum B 3 of 4 (75 %). The exposed are
        # 3 in A and 1 in B: (3·25 + 1·75) / 4 = 37.5 %, not the pooled 50 %.
        a, b = tally(4, 1, 2, "40.00", 2), tally(4, 3, 6, "400.00", 0)
        result = standardised([(3, a), (1, b)])
        assert result["bought"] == 37.5
        assert rates(a + b)["bought"] == 50.0
        # purchases (3·0.5 + 1·1.5)/4 = 0.75; revenue (3·10 + 100)/4 = 32.50; churn (3·50 + 0)/4 = 37.5
        assert (result["purchases"], result["revenue"], result["churned"]) == (0.75, Decimal("32.50"), 37.5)

    def test_strata_without_weight_or_customers_count_for_nothing(self):
        a = tally(2, 1)
        assert standardised([(2, a), (0, tally(5, 5)), (4, Tally())]) == rates(a)
        assert standardised([]) == dict.fromkeys(impact.FIGURES)
        assert standardised([(0, a)]) == dict.fromkeys(impact.FIGURES)

    def test_exact_thirds(self):
        # (1·1/3 + 2·2/3) / 3 = 5/9
        result = standardised([(1, tally(3, 1)), (2, tally(3, 2))])
        assert result["bought"] == pytest.approx(500 / 9)

    @given(st.lists(st.tuples(st.integers(1, 50), st.data()), max_size=6))
    def test_weighting_by_own_size_is_pooling(self, cells):
        tallies = []
        for customers, data in cells:
            buyers = data.draw(st.integers(0, customers))
            churned = data.draw(st.integers(0, customers))
            purchases = data.draw(st.integers(buyers, buyers * 3))
            cents = data.draw(st.integers(0, 10**6))
            tallies.append(tally(customers, buyers, purchases, Decimal(cents) / 100, churned))
        pooled = sum(tallies, Tally())
        own = standardised((t.customers, t) for t in tallies)
        expected = rates(pooled)
        for key in ("bought", "purchases", "churned"):
            assert own[key] is None if expected[key] is None else own[key] == pytest.approx(expected[key])
        assert own["revenue"] == expected["revenue"]

    @given(st.lists(st.tuples(st.integers(1, 40), st.integers(1, 40)), min_size=1, max_size=6),
           st.integers(0, 100))
    def test_a_standardised_share_lies_between_the_strata(self, cells, seed):
        pairs = [(w, tally(n, (seed * (i + 1)) % (n + 1))) for i, (w, n) in enumerate(cells)]
        shares = [rates(t)["bought"] for _, t in pairs]
        assert min(shares) - 1e-9 <= standardised(pairs)["bought"] <= max(shares) + 1e-9


def test_difference_in_points_and_money():
    a = {"bought": 75.0, "purchases": 1.5, "revenue": Decimal("40.00"), "churned": 10.0}
    b = {"bought": 50.0, "purchases": 2.0, "revenue": Decimal("45.50"), "churned": None}
    assert difference(a, b) == {"bought": 25.0, "purchases": -0.5, "revenue": Decimal("-5.50"), "churned": None}


def test_median_instant():
    t = datetime(2026, 4, 10, 10, tzinfo=UTC)
    assert median_instant([]) is None
    assert median_instant([t]) == t
    assert median_instant([t + timedelta(days=10), t]) == t + timedelta(days=5)
    assert median_instant([t + timedelta(days=9), t, t + timedelta(days=1)]) == t + timedelta(days=1)


def test_default_period_ends_91_days_before_today():
    first, last = default_period(date(2026, 11, 16))
    assert (first, last) == (date(2026, 5, 20), date(2026, 8, 17))
    assert (last - first).days + 1 == 90
    # the 90 days after the last exposure day end the day before today
    assert last + timedelta(days=90) == date(2026, 11, 15)


class TestSummary:
    """Two matched strata, one without comparable customers, one whose windows are all open."""

    @pytest.fixture
    def strata(self):
        return [
            Stratum("Particular", "standard", window_open=1, reference=datetime(2026, 4, 15, tzinfo=UTC),
                    exposed_before=tally(2, 1, 1, "20.00", 1), exposed_after=tally(2, 2, 3, "80.00", 1, 1),
                    comparable_before=tally(3, 1, 1, "30.00", 0), comparable_after=tally(3, 2, 3, "120.00", 2)),
            Stratum("Empresa", "standard", exposed_before=tally(1), exposed_after=tally(1, 1, 1, "200.00"),
                    comparable_before=tally(2, 1, 1, "50.00"), comparable_after=tally(2, 1, 1, "100.00", 0, 2)),
            Stratum("Empresa", "premium", exposed_before=tally(1), exposed_after=tally(1, 1, 1, "300.00")),
            Stratum(None, "basic", window_open=1),
        ]

    def test_headline(self, strata):
        result = impact.summarise(strata)
        after = result["after"]
        assert after["exposed"] == {"bought": 100.0, "purchases": pytest.approx(4 / 3),
                                    "revenue": Decimal("93.33"), "churned": pytest.approx(100 / 3)}
        assert after["comparable"]["bought"] == pytest.approx(1100 / 18)
        assert after["comparable"]["revenue"] == Decimal("43.33")
        assert after["difference"]["revenue"] == Decimal("50.00")
        assert after["difference"]["churned"] == pytest.approx(100 / 3 - 400 / 9)
        assert result["before"]["comparable"]["revenue"] == Decimal("15.00")
        assert result["change"]["exposed"]["bought"] == pytest.approx(100 - 100 / 3)
        assert result["change"]["difference"]["revenue"] == Decimal("50.00") - (Decimal("6.67") - Decimal("15.00"))

    def test_counts_and_strata(self, strata):
        result = impact.summarise(strata)
        assert (result["exposed_customers"], result["window_open"], result["in_figures"], result["unmatched"],
                result["comparable_customers"]) == (6, 2, 3, 1, 5)
        assert result["unmatched_strata"] == [{"segment": "Empresa", "tier": "premium", "exposed": 1}]
        assert result["other_currency"] == {"exposed": 1, "comparable": 2}
        # ordered by segment (no segment last), then tier from basic to premium
        assert [(row["segment"], row["tier"]) for row in result["strata"]] == [
            ("Empresa", "standard"), ("Empresa", "premium"), ("Particular", "standard"), (None, "basic")]
        premium = result["strata"][1]
        assert premium["matched"] is False and premium["difference"] == dict.fromkeys(impact.FIGURES)
        assert result["strata"][0]["difference"]["bought"] == 50.0

    def test_nothing_matched(self):
        result = impact.summarise([Stratum("A", "basic", exposed_after=tally(2, 1))])
        assert result["after"]["exposed"] == dict.fromkeys(impact.FIGURES)
        assert result["in_figures"] == 0 and result["unmatched"] == 2
        assert impact.summarise([])["exposed_customers"] == 0
