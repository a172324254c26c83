"""The metrics page: supervisors only, filters that refuse bad input, the API's numbers."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm.insights.figures import SECTIONS
from tests.services.test_insights import build_dataset

OCTOBER = "/insights/metrics?since=2026-10-01&until=2026-10-31"
ROW = re.compile(r'<tr id="metric-(\w+)">\s*<th scope="row">[^<]*</th>\s*<td class="current">([^<]*)</td>\s*'
                 r'<td class="previous">([^<]*)</td>\s*<td class="change">([^<]*)</td>')
KINDS = {key: kind for _heading, rows in SECTIONS for _label, key, kind in rows}


def text(response):
    return response.get_data(as_text=True)


def rows(page: str) -> dict:
    return {key: (current, previous, change) for key, current, previous, change in ROW.findall(page)}


def english(value, kind: str) -> str:
    """How an English page shows a value the API sent (already rounded to two decimals)."""
    if value is None:
        return "—"
    if kind == "money":
        return f"€{float(value):,.2f}"
    if kind == "count":
        return f"{value:,}"
    shown = f"{value:,.2f}".rstrip("0").rstrip(".")
    return shown + "%" if kind == "percent" else shown


@pytest.fixture
def agent2(make_user):
    return make_user("agent", email="agent2@example.es", name="Pablo Ruiz")


@pytest.fixture
def dataset(app, admin, agent, agent2):
    with app.app_context():
        return build_dataset(admin.id, agent.id, agent2.id)


def test_supervisors_see_every_metric_of_the_last_30_days_by_default(app, login, supervisor):
    from crm.insights.services import today
    from crm.types import utc_now

    response = login(supervisor).get("/insights/metrics")
    page = text(response)
    assert response.status_code == 200
    assert set(rows(page)) == set(KINDS)
    last = today(app.config["BABEL_DEFAULT_TIMEZONE"], utc_now())
    assert f'value="{last.isoformat()}"' in page and f'value="{(last - timedelta(days=29)).isoformat()}"' in page
    assert 'href="/insights/metrics"' in page  # in the menu


def test_agents_and_strangers_are_kept_out(client, login, agent):
    assert login(agent).get("/insights/metrics").status_code == 403
    assert 'href="/insights/metrics"' not in text(login(agent).get("/"))
    anonymous = client.get("/insights/metrics")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_the_figures_of_a_period_beside_the_previous_ones(login, supervisor, dataset):
    page = text(login(supervisor).get(OCTOBER))
    shown = rows(page)
    assert shown["nps"] == ("0", "33.33", "-33.33")
    assert shown["csat"] == ("66.67%", "—", "—")
    assert shown["fcr_first"] == ("40%", "50%", "-10 pp")
    assert shown["fcr_second"] == ("80%", "100%", "-20 pp")
    assert shown["revenue"] == ("€350.50", "€30.00", "+€320.50")
    assert shown["cost_to_serve"] == ("€157.50", "€78.00", "+€79.50")
    assert shown["customers_lost"] == ("2", "1", "+1")
    assert "Not met" in page and "90%" in page  # the FCR target
    assert "1 purchase in another currency is not counted" in page
    assert "Oct 1, 2026" in page and "Aug 31, 2026" in page
    churn = page[page.index('id="churn-by-segment"'):]
    assert re.search(r"Empresa</th>\s*<td>2</td><td>1</td><td>50%</td>", churn)
    assert re.search(r"No segment</th>\s*<td>1</td><td>0</td><td>0%</td>", churn)
    cohorts = page[page.index('id="retention-by-cohort"'):]
    assert re.search(r"January 2026</time></th>\s*<td>3</td><td>3</td><td>100%</td>", cohorts)
    assert re.search(r"November 2025</time></th>\s*<td>0</td><td>0</td><td>—</td>", cohorts)


def test_filters_narrow_the_figures(login, supervisor, agent2, dataset):
    page = text(login(supervisor).get(f"{OCTOBER}&agent={agent2.id}&segment=Empresa"))
    shown = rows(page)
    assert shown["incidents_resolved"][0] == "2" and shown["fcr_first"][0] == "50%"
    assert shown["nps"][0] == "-50"
    assert f'<option value="{agent2.id}" selected>' in page


def test_the_page_shows_the_apis_numbers(login, api_as, supervisor, agent2, dataset):
    for query in ("", f"&agent={agent2.id}&channel=email", f"&team={dataset['sales']}&tier=premium"):
        page = text(login(supervisor).get(OCTOBER + query))
        api_query = query.replace("&agent=", "&agent_id=").replace("&team=", "&team_id=")
        body = api_as(supervisor).get(f"/api/v1/metrics?from=2026-10-01&to=2026-10-31{api_query}").get_json()
        shown = rows(page)
        for key, kind in KINDS.items():
            assert shown[key][:2] == (english(body["current"][key], kind), english(body["previous"][key], kind)), key
        churn = page[page.index('id="churn-by-segment"'):page.index('id="retention-h"')]
        assert [int(n) for n in re.findall(r"<td>(\d+)</td><td>\d+</td>", churn)] == [
            row["at_start"] for row in body["current"]["churn_by_segment"]]
        cohorts = page[page.index('id="retention-by-cohort"'):]
        assert [int(n) for n in re.findall(r"<td>(\d+)</td><td>\d+</td><td>", cohorts)] == [
            row["customers"] for row in body["current"]["retention_by_cohort"]]


@pytest.mark.parametrize("query, field, message", [
    ("since=2026-10-31&until=2026-10-01", "until", "must not be before the start of the period"),
    ("since=2025-01-01&until=2026-01-02", "until", "at most 366 days"),
    ("since=2026-13-01", "since", "Not a valid date"),
    ("since=0001-01-01&until=0001-01-02", "since", "must be between"),
    ("until=9999-12-31", "until", "must be between"),
    ("channel=pigeon", "channel", "Not a valid choice"),
    ("team=abc", "team", "Not a valid choice"),
    ("agent=999999", "agent", "Not a valid choice"),
    ("moment_type=1%00", "moment_type", "Not a valid choice"),
    ("tier=gold", "tier", "Not a valid choice"),
    ("segment=%00", "segment", ""),
])
def test_bad_filters_show_errors_with_a_400(login, supervisor, query, field, message):
    response = login(supervisor).get(f"/insights/metrics?{query}")
    page = text(response)
    assert response.status_code == 400
    error = re.search(rf'<small id="{field}-error" class="error">([^<]*)</small>', page)
    assert error and message in error.group(1)
    assert 'id="metrics"' not in page


def test_an_end_date_alone_gives_the_30_days_before_it(login, supervisor, dataset):
    page = text(login(supervisor).get("/insights/metrics?until=2026-10-31"))
    assert 'value="2026-10-02"' in page and "Oct 2, 2026" in page


def test_the_page_speaks_spanish(login, make_user, dataset):
    boss = make_user("supervisor", locale="es")
    page = text(login(boss).get(OCTOBER))
    assert rows(page)["csat"][0] == "66,67\u00a0%"
    assert rows(page)["revenue"][0] == "350,50\u00a0€"


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(args=st.dictionaries(
    st.sampled_from(["since", "until", "segment", "tier", "team", "agent", "channel", "moment_type", "x"]),
    st.one_of(st.text(max_size=40), st.sampled_from(["", "\x00", "9" * 40, "-1", "2026-02-29", "0000-01-01",
                                                     "9999-12-31", "2026-10-01T00:00", "1", "phone"])),
    max_size=5))
def test_any_query_string_is_a_page_or_a_400(login, supervisor, args):
    response = login(supervisor).get("/insights/metrics", query_string=args)
    assert response.status_code in (200, 400)
    assert ('id="metrics"' in text(response)) == (response.status_code == 200)
