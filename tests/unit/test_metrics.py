"""The metric formulas: the issue's hand-worked cases, edge cases and properties."""
from collections import Counter
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm.insights import metrics

nps_scores = st.lists(st.integers(min_value=0, max_value=10), max_size=300)
csat_scores = st.lists(st.integers(min_value=1, max_value=5), max_size=300)
ces_scores = st.lists(st.integers(min_value=1, max_value=7), max_size=300)


class TestHandWorkedCases:
    def test_one_answer_at_each_nps_score(self):
        # 2 promoters (9, 10) and 7 detractors (0–6) of 11: (2 − 7) / 11 = −45.45 %
        assert metrics.nps(range(0, 11)) == pytest.approx(-45.4545454545)
        assert round(metrics.nps(range(0, 11)), 2) == -45.45

    def test_100_promoters_30_passives_80_detractors(self):
        scores = [10] * 60 + [9] * 40 + [8] * 20 + [7] * 10 + [6] * 50 + [0] * 30
        assert round(metrics.nps(scores), 2) == 9.52
        assert metrics.nps(scores) == pytest.approx(100 * 20 / 210)
        assert metrics.nps_from_counts(100, 30, 80) == metrics.nps(scores)

    def test_csat_share_of_fours_and_fives(self):
        scores = [5] * 10 + [4] * 20 + [3] * 10 + [2] * 5 + [1] * 5
        assert metrics.csat(scores) == 60.0

    def test_ces_is_the_mean_on_its_scale(self):
        assert metrics.ces([1, 2, 3, 7]) == 3.25

    def test_fcr_first_and_by_second_contact(self):
        # ten incidents: 7 resolved on the first contact, 2 on the second, 1 on the fourth
        result = metrics.fcr([1] * 7 + [2] * 2 + [4])
        assert (result.first, result.by_second) == (70.0, 90.0)
        assert metrics.fcr_from_counts(10, 7, 9) == result

    def test_sla_churn_retention(self):
        assert metrics.sla_compliance(9, 3) == 75.0
        assert metrics.churn_rate(5, 200) == 2.5
        assert metrics.retention(40, 30) == 75.0

    def test_change_is_the_difference_in_the_figures_own_unit(self):
        assert metrics.change(9.52, -45.45) == pytest.approx(54.97)
        assert metrics.change(Decimal("10.50"), Decimal("12.00")) == Decimal("-1.50")
        assert metrics.change(3, 3) == 0

    def test_meets_target(self):
        assert metrics.meets_target(90.0, 90.0) is True
        assert metrics.meets_target(89.99, 90.0) is False
        assert metrics.meets_target(None, 90.0) is None


class TestNothingToMeasure:
    def test_no_answers_is_none_not_zero(self):
        assert metrics.nps([]) is None
        assert metrics.csat([]) is None
        assert metrics.ces([]) is None
        assert metrics.fcr([]) == metrics.FCR(None, None)
        assert metrics.sla_compliance(0, 0) is None
        assert metrics.churn_rate(0, 0) is None
        assert metrics.retention(0, 0) is None

    def test_change_is_unknown_when_a_side_is(self):
        assert metrics.change(None, 5.0) is None
        assert metrics.change(5.0, None) is None
        assert metrics.change(True, False) is None


class TestRefusesNonsense:
    @pytest.mark.parametrize("scores", [[11], [-1], [5.5], ["9"], [True]])
    def test_nps_scores_outside_the_scale(self, scores):
        with pytest.raises(ValueError):
            metrics.nps(scores)

    @pytest.mark.parametrize("scores", [[0], [6]])
    def test_csat_scores_outside_the_scale(self, scores):
        with pytest.raises(ValueError):
            metrics.csat(scores)

    def test_ces_scores_outside_the_scale(self):
        with pytest.raises(ValueError):
            metrics.ces([8])

    def test_negative_or_inconsistent_counts(self):
        with pytest.raises(ValueError):
            metrics.nps_from_histogram({9: -1})
        with pytest.raises(ValueError):
            metrics.fcr_from_counts(5, 4, 3)  # more on the first than by the second
        with pytest.raises(ValueError):
            metrics.fcr_from_counts(2, 1, 3)
        with pytest.raises(ValueError):
            metrics.fcr([0])
        with pytest.raises(ValueError):
            metrics.sla_compliance(-1, 2)
        with pytest.raises(ValueError):
            metrics.churn_rate(3, 2)
        with pytest.raises(ValueError):
            metrics.retention(2, 3)


class TestProperties:
    @given(nps_scores)
    def test_nps_is_between_minus_and_plus_100(self, scores):
        value = metrics.nps(scores)
        assert value is None if not scores else -100 <= value <= 100

    @given(nps_scores, st.randoms())
    def test_nps_does_not_depend_on_order(self, scores, rng):
        shuffled = list(scores)
        rng.shuffle(shuffled)
        assert metrics.nps(shuffled) == metrics.nps(scores)

    @given(nps_scores.filter(bool), st.integers(min_value=2, max_value=5))
    def test_nps_is_the_same_when_every_answer_is_repeated(self, scores, times):
        assert metrics.nps(scores * times) == pytest.approx(metrics.nps(scores))

    @given(nps_scores)
    def test_nps_from_a_histogram_equals_nps_from_the_answers(self, scores):
        assert metrics.nps_from_histogram(Counter(scores)) == metrics.nps(scores)

    @given(nps_scores, st.integers(min_value=7, max_value=8))
    def test_a_passive_moves_nps_toward_zero(self, scores, passive):
        before, after = metrics.nps(scores), metrics.nps(scores + [passive])
        if before is None:
            assert after == 0
        else:
            assert abs(after) <= abs(before)

    @given(nps_scores, st.integers(min_value=9, max_value=10))
    def test_a_promoter_never_lowers_nps(self, scores, promoter):
        before = metrics.nps(scores)
        assert before is None or metrics.nps(scores + [promoter]) >= before

    @given(csat_scores)
    def test_csat_is_a_percentage_independent_of_order(self, scores):
        value = metrics.csat(scores)
        assert value is None if not scores else 0 <= value <= 100
        assert metrics.csat(sorted(scores)) == value

    @given(ces_scores)
    def test_ces_stays_on_its_scale(self, scores):
        value = metrics.ces(scores)
        assert value is None if not scores else 1 <= value <= 7

    @given(st.lists(st.integers(min_value=1, max_value=20), max_size=200))
    def test_fcr_first_never_exceeds_by_second(self, contacts):
        result = metrics.fcr(contacts)
        if contacts:
            assert 0 <= result.first <= result.by_second <= 100
        else:
            assert result == metrics.FCR(None, None)

    @given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=10**6))
    def test_sla_compliance_is_a_percentage(self, met, breached):
        value = metrics.sla_compliance(met, breached)
        assert value is None if met + breached == 0 else 0 <= value <= 100

    @given(st.integers(min_value=1, max_value=10**6), st.data())
    def test_churn_and_retention_of_the_same_cohort_add_up_to_100(self, size, data):
        lost = data.draw(st.integers(min_value=0, max_value=size))
        assert metrics.churn_rate(lost, size) + metrics.retention(size, size - lost) == pytest.approx(100)

    @given(st.floats(min_value=-1e6, max_value=1e6), st.floats(min_value=-1e6, max_value=1e6))
    def test_change_undoes_itself(self, current, previous):
        assert previous + metrics.change(current, previous) == pytest.approx(current, abs=1e-6)
