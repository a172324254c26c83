"""Pure rules: lifecycle changes, search normalisation, safe redirects, input cleaning."""
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm.customers import search
from crm.customers.lifecycle import STAGES, TransitionError, check_stage_change
from crm.domain import Cleaner, ValidationFailed
from crm.security import is_safe_next


class TestStageChange:
    def test_any_other_stage_with_a_reason_is_allowed(self):
        for current in STAGES:
            for target in STAGES:
                if target != current:
                    assert check_stage_change(current, target, "  porque sí ") == "porque sí"

    @pytest.mark.parametrize("reason", [None, "", "   "])
    def test_a_reason_is_required(self, reason):
        with pytest.raises(TransitionError) as err:
            check_stage_change("active", "loyal", reason)
        assert err.value.field == "reason"

    def test_same_stage_is_refused(self):
        with pytest.raises(TransitionError) as err:
            check_stage_change("active", "active", "x")
        assert err.value.field == "stage"

    def test_unknown_stage_is_refused(self):
        with pytest.raises(TransitionError):
            check_stage_change("active", "vip", "x")

    def test_overlong_reason_is_refused(self):
        with pytest.raises(TransitionError) as err:
            check_stage_change("active", "loyal", "x" * 501)
        assert err.value.params == {"max": 500}


class TestSearchTerms:
    def test_accents_and_case_do_not_matter(self):
        assert search.normalise("Núñez ÁLVAREZ") == "nunez alvarez"

    def test_terms_cover_name_company_email_and_phone_forms(self):
        terms = search.terms_for("María García", "Talleres Núñez S.L.", "Maria.Garcia@Example.es",
                                 "+34 612 345 678")
        assert {"maria", "garcia", "talleres", "nunez", "s", "l"} <= terms
        assert "maria.garcia@example.es" in terms
        assert {"34612345678", "612345678"} <= terms

    def test_query_words_become_prefixes(self):
        assert sorted(search.query_prefixes("Mar  GARC")) == ["garc", "mar"]

    def test_phone_query_is_digits(self):
        assert search.query_prefixes("612 34") == ["61234"]
        assert search.query_prefixes("+34 (612) 345-678") == ["34612345678"]

    def test_email_query_keeps_the_at_sign(self):
        assert search.query_prefixes("maria.garcia@ex") == ["maria.garcia@ex"]

    def test_empty_query_has_no_prefixes(self):
        assert search.query_prefixes("   ") == []

    @given(st.text(max_size=300))
    def test_any_query_yields_bounded_prefixes(self, text):
        prefixes = search.query_prefixes(text)
        assert len(prefixes) <= 6
        assert all(0 < len(p) <= search.TERM_MAX for p in prefixes)

    @given(st.text(min_size=1, max_size=40))
    def test_a_term_is_within_the_range_of_each_of_its_prefixes(self, text):
        term = search.normalise(text)
        for cut in range(1, len(term) + 1):
            prefix = term[:cut]
            assert prefix <= term < search._upper_bound(prefix)


class TestSafeNext:
    @pytest.mark.parametrize("target", ["/customers", "/customers/3?page=2", "/"])
    def test_local_paths_are_safe(self, target):
        assert is_safe_next(target)

    @pytest.mark.parametrize("target", [
        "//evil.example", "/\\evil.example", "https://evil.example", "http:/evil.example",
        "javascript:alert(1)", "", None, "evil.example", "/\tevil", "\\\\evil.example",
    ])
    def test_anything_else_is_not(self, target):
        assert not is_safe_next(target)


class TestCleaner:
    def test_control_characters_and_nul_are_refused(self):
        c = Cleaner()
        assert c.text("name", "Ana\x00", max_len=10) is None
        assert c.text("notes", "line\x07", max_len=10, multiline=True) is None
        with pytest.raises(ValidationFailed) as err:
            c.check()
        assert set(err.value.fields) == {"name", "notes"}

    def test_newlines_only_where_multiline(self):
        c = Cleaner()
        assert c.text("notes", "a\nb", max_len=10, multiline=True) == "a\nb"
        assert c.text("name", "a\nb", max_len=10) is None

    def test_non_text_is_refused(self):
        c = Cleaner()
        assert c.text("name", 12, max_len=10) is None
        assert "name" in c.errors


class TestUTCDateTime:
    def test_naive_datetimes_are_refused(self):
        from crm.types import UTCDateTime

        column = UTCDateTime()

        class Dialect:
            name = "sqlite"

        with pytest.raises(ValueError):
            column.process_bind_param(datetime(2026, 1, 1), Dialect())

    def test_values_are_stored_in_utc_and_come_back_aware(self):
        from zoneinfo import ZoneInfo

        from crm.types import UTCDateTime

        class Dialect:
            name = "sqlite"

        column = UTCDateTime()
        madrid = datetime(2026, 7, 1, 12, 0, tzinfo=ZoneInfo("Europe/Madrid"))
        stored = column.process_bind_param(madrid, Dialect())
        assert stored == datetime(2026, 7, 1, 10, 0)
        back = column.process_result_value(stored, Dialect())
        assert back == madrid and back.tzinfo == timezone.utc
        assert back - madrid == timedelta(0)
