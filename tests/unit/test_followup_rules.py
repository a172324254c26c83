"""crm.followups.rules: variables per trigger, survey scores, back-off, SMTP URLs."""
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm.followups import rules


def test_variables_depend_on_the_trigger_kind_and_survey():
    assert rules.missing_variables({"first_name", "renewal_date"}, "before_renewal",
                                   kind="transactional", survey=None) == []
    assert rules.missing_variables({"renewal_date"}, "after_moment", kind="transactional",
                                   survey=None) == ["renewal_date"]
    assert rules.missing_variables({"survey_url"}, "one_off", kind="marketing", survey=None) == ["survey_url"]
    assert rules.missing_variables({"survey_url", "unsubscribe_url"}, "one_off", kind="marketing",
                                   survey="nps") == []
    assert rules.missing_variables({"unsubscribe_url"}, "compensation_issued", kind="transactional",
                                   survey=None) == ["unsubscribe_url"]


@pytest.mark.parametrize("kind,score,detractor,emotion", [
    ("nps", 0, True, -2), ("nps", 3, True, -2), ("nps", 4, True, -1), ("nps", 6, True, -1),
    ("nps", 7, False, 0), ("nps", 8, False, 0), ("nps", 9, False, 1), ("nps", 10, False, 2),
    ("csat", 1, True, -2), ("csat", 2, True, -1), ("csat", 3, False, 0), ("csat", 4, False, 1),
    ("csat", 5, False, 2),
    ("ces", 1, True, -2), ("ces", 3, True, -1), ("ces", 4, False, 0), ("ces", 6, False, 1), ("ces", 7, False, 2),
])
def test_scores(kind, score, detractor, emotion):
    assert rules.score_in_range(kind, score)
    assert rules.is_detractor(kind, score) is detractor
    assert rules.emotion_for(kind, score) == emotion


@pytest.mark.parametrize("kind,score", [("nps", -1), ("nps", 11), ("csat", 0), ("csat", 6), ("ces", 0), ("ces", 8),
                                        ("nps", True),
                                        ("nps", 5.0), ("csat", "3")])
def test_out_of_range_scores(kind, score):
    assert not rules.score_in_range(kind, score)


@given(st.integers(min_value=1, max_value=200))
def test_back_off_grows_and_is_capped(attempts):
    delay = rules.retry_delay(attempts)
    assert rules.FIRST_RETRY <= delay <= rules.LONGEST_RETRY
    assert rules.retry_delay(attempts + 1) >= delay


def test_back_off_schedule_and_giving_up():
    assert [rules.retry_delay(n) for n in (1, 2, 3)] == [timedelta(seconds=30), timedelta(minutes=1),
                                                        timedelta(minutes=2)]
    assert not rules.gives_up(rules.MAX_ATTEMPTS - 1) and rules.gives_up(rules.MAX_ATTEMPTS)
    total = sum((rules.retry_delay(n) for n in range(1, rules.MAX_ATTEMPTS)), timedelta())
    assert timedelta(hours=5) < total < timedelta(hours=9)  # an afternoon's outage loses nothing


def test_smtp_urls():
    plain = rules.parse_smtp_url("smtp://127.0.0.1:2525")
    assert (plain.host, plain.port, plain.ssl, plain.starttls, plain.username) == ("127.0.0.1", 2525, False,
                                                                                  False, None)
    tls = rules.parse_smtp_url("smtp://me%40shop.es:p%3Ass@mail.shop.es?starttls=1&timeout=5")
    assert (tls.host, tls.port, tls.starttls, tls.username, tls.password, tls.timeout) == (
        "mail.shop.es", 587, True, "me@shop.es", "p:ss", 5.0)
    assert rules.parse_smtp_url("smtps://mail.shop.es").port == 465
    for bad in ("http://x", "smtp://", "smtp://host:99999", "smtps://h?starttls=1", "smtp://h?timeout=soon"):
        with pytest.raises(rules.SmtpUrlError):
            rules.parse_smtp_url(bad)
