"""Experience metrics over a small, explicit dataset: every figure worked out by hand.

The company's zone is Europe/Madrid. The period is October 2026 in local days
(2026-09-30 22:00 UTC to 2026-10-31 23:00 UTC: summer time ends on the 25th);
the previous period is the 31 local days before it (31 August to 30 September).
"""
from __future__ import annotations

import itertools
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from crm.auth.models import Team, User
from crm.compensations.models import Compensation
from crm.customers.models import Purchase
from crm.customers.services import change_stage, create_customer
from crm.domain import ValidationFailed
from crm.extensions import db
from crm.followups.models import OutboxMessage, SurveyResponse
from crm.insights import services
from crm.moments.catalog import save_moment_type
from crm.moments.models import Commitment
from crm.moments.services import log_moment
from tests.conftest import NOW

ZONE = "Europe/Madrid"
UTC = timezone.utc
OCTOBER = services.Period(date(2026, 10, 1), date(2026, 10, 31), ZONE)
_keys = itertools.count(1)


def at(month, day, hour=10, minute=0):
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def build_dataset(admin_id: int, agent_id: int, agent2_id: int) -> dict:
    """Two teams, two agents, seven customers and their contacts, commitments, surveys,
    compensations, purchases and stage changes. Commits, so other requests see it."""
    admin, agent, agent2 = (db.session.get(User, i) for i in (admin_id, agent_id, agent2_id))
    care, sales = Team(name="Atención al cliente"), Team(name="Ventas")
    db.session.add_all([care, sales])
    db.session.flush()
    complaint = save_moment_type(admin, None, {"code": "complaint", "name": "Reclamación", "phase": "interact",
                                               "channel": "phone", "cost": "18.00", "team_id": care.id}, NOW)
    visit = save_moment_type(admin, None, {"code": "visit", "name": "Visita a tienda", "phase": "interact",
                                           "channel": "in_person", "cost": "5.00", "team_id": sales.id}, NOW)

    def customer(name, segment, created, tier="standard"):
        return create_customer(agent, {"name": name, "segment": segment, "tier": tier, "stage": "active"}, created)

    c1 = customer("Ana Particular", "Particular", at(1, 15))
    c2 = customer("Bruno Empresa", "Empresa", at(1, 15), tier="premium")
    c3 = customer("Clara Particular", "Particular", at(2, 1))
    c4 = customer("Diego Empresa", "Empresa", at(3, 1))
    c5 = customer("Elena Particular", "Particular", at(10, 5))
    c6 = customer("Félix Empresa", "Empresa", at(2, 1))
    c7 = customer("Gema Sinsegmento", None, at(1, 20))

    def contact(who, client, kind, when, outcome="pending", follows=None, channel=None):
        return log_moment(who, {"customer_id": client.id, "moment_type": kind.code, "occurred_at": when,
                                "outcome": outcome, "follows_moment_id": follows.id if follows else None,
                                "channel": channel}, NOW)

    # October's incidents (numbered as in the tests' comments)
    i1 = contact(agent, c1, complaint, at(10, 2), "resolved")                          # 1st contact
    i2a = contact(agent, c1, complaint, at(10, 5))
    i2b = contact(agent, c1, complaint, at(10, 6), "resolved", i2a)                     # 2nd contact
    i3a = contact(agent2, c2, complaint, at(10, 7), channel="email")
    i3b = contact(agent2, c2, complaint, at(10, 8), follows=i3a, channel="email")
    contact(agent2, c2, complaint, at(10, 9), "resolved", i3b, channel="email")        # 3rd contact
    i4 = contact(agent2, c2, visit, at(10, 10), "resolved")                            # 1st contact
    i5a = contact(agent, c1, complaint, at(9, 20))                                       # began in September
    contact(agent, c1, complaint, at(10, 3), "resolved", i5a)                           # 2nd contact, October
    i6 = contact(agent, c2, complaint, at(10, 20))                                       # never resolved
    contact(agent, c1, complaint, at(10, 31, 23, 30), "resolved")                       # 1 November in Madrid
    # September's incidents
    i8 = contact(agent, c1, complaint, at(9, 10), "resolved")                           # 1st contact
    i9a = contact(agent2, c2, complaint, at(9, 12))
    contact(agent2, c2, complaint, at(9, 14), "resolved", i9a)                          # 2nd contact

    def commitment(moment, kind, due, status, met=None):
        db.session.add(Commitment(moment_id=moment.id, customer_id=moment.customer_id, owner_id=moment.staff_id,
                                  kind=kind, status=status, starts_at=moment.occurred_at, due_at=due, met_at=met,
                                  breached_at=due if status == "breached" else None))

    commitment(i1, "first_response", at(10, 2, 14), "met", at(10, 2))                   # on time
    commitment(i1, "resolution", at(10, 4), "met", at(10, 2))                           # on time
    commitment(i2a, "first_response", at(10, 5, 14), "met", at(10, 6))                  # met late
    commitment(i2a, "resolution", at(10, 7), "met", at(10, 6))                          # on time
    commitment(i3a, "first_response", at(10, 7, 14), "breached")
    commitment(i3a, "resolution", at(10, 10), "breached")
    commitment(i6, "first_response", at(10, 20, 14), "open")                            # not decided yet
    commitment(i6, "resolution", at(10, 22), "paused")                                  # not decided yet
    commitment(i5a, "first_response", at(9, 20, 14), "met", at(9, 20, 12))              # September, on time
    commitment(i5a, "resolution", at(9, 30, 21), "breached")                            # 30 Sep 23:00 Madrid

    def survey(client, kind, score, when, moment=None):
        message = OutboxMessage(idempotency_key=f"insights-test-{next(_keys)}", customer_id=client.id,
                                kind="transactional", survey=kind, to_address="x@example.es", language="es",
                                subject="¿Qué tal?", message=b"", due_at=when, status="sent",
                                moment_id=moment.id if moment else None)
        db.session.add(message)
        db.session.flush()
        db.session.add(SurveyResponse(outbox_id=message.id, customer_id=client.id,
                                      moment_id=moment.id if moment else None, kind=kind, score=score,
                                      answered_at=when))

    survey(c1, "nps", 10, at(10, 2, 12), i1)
    survey(c1, "nps", 9, at(10, 6, 12), i2b)
    survey(c2, "nps", 7, at(10, 10, 12), i4)
    survey(c2, "nps", 3, at(10, 9, 12), i3a)
    survey(c1, "nps", 0, at(10, 15))                                   # about no contact
    survey(c1, "nps", 0, at(10, 31, 23, 30))                           # 1 November in Madrid
    survey(c1, "csat", 5, at(10, 2, 12), i1)
    survey(c2, "csat", 4, at(10, 10, 12), i4)
    survey(c2, "csat", 2, at(10, 9, 12), i3a)
    survey(c1, "ces", 2, at(10, 2, 12), i1)
    survey(c2, "ces", 5, at(10, 9, 12), i3a)
    survey(c1, "nps", 10, at(9, 10, 12), i8)
    survey(c1, "nps", 10, at(9, 11, 12), i8)
    survey(c2, "nps", 6, at(9, 14, 12), i9a)

    def compensation(client, moment, status, value, cost, issued=None):
        db.session.add(Compensation(customer_id=client.id, moment_id=moment.id, kind="gift", value=Decimal(value),
                                    cost=Decimal(cost), status=status, proposed_at=moment.occurred_at,
                                    issued_at=issued))

    compensation(c2, i3a, "issued", "10.00", "6.00", at(10, 12))
    compensation(c2, i3a, "approved", "20.00", "20.00")
    compensation(c1, i2a, "issued", "15.00", "15.00", at(10, 31, 23, 30))   # 1 November in Madrid
    compensation(c1, i1, "issued", "5.00", "2.50", at(10, 3))
    compensation(c1, i5a, "issued", "10.00", "6.00", at(9, 30, 21, 30))     # 30 September in Madrid

    for client, amount, currency, day in ((c1, "100.00", "EUR", date(2026, 10, 1)),
                                          (c2, "250.50", "EUR", date(2026, 10, 31)),
                                          (c2, "80.00", "USD", date(2026, 10, 15)),
                                          (c1, "40.00", "EUR", date(2026, 11, 1)),
                                          (c1, "30.00", "EUR", date(2026, 9, 30))):
        db.session.add(Purchase(customer_id=client.id, amount=Decimal(amount), currency=currency,
                                purchased_on=day, created_at=NOW))

    change_stage(agent, c4, "churned", "Se fue a la competencia", at(9, 5))
    change_stage(agent, c3, "churned", "Cerró la cuenta", at(10, 14))
    change_stage(agent, c5, "churned", "Devolvió el pedido", at(10, 20))
    change_stage(agent, c6, "churned", "Baja", at(10, 10))
    change_stage(agent, c6, "active", "Volvió", at(10, 12))
    change_stage(agent, c6, "churned", "Baja otra vez", at(10, 25))
    db.session.commit()
    return {"care": care.id, "sales": sales.id, "complaint": complaint.id, "visit": visit.id,
            "customers": [c.id for c in (c1, c2, c3, c4, c5, c6, c7)]}


@pytest.fixture
def agent2(make_user):
    return make_user("agent", email="agent2@example.es", name="Pablo Ruiz")


@pytest.fixture
def dataset(ctx, admin, agent, agent2):
    return build_dataset(admin.id, agent.id, agent2.id)


def october(filters=None, **options):
    return services.compute_metrics(OCTOBER.start, OCTOBER.end, filters,
                                    **{"zone": ZONE, "currency": "EUR", **options})


def september(filters=None):
    previous = OCTOBER.previous()
    return services.compute_metrics(previous.start, previous.end, filters, zone=ZONE, currency="EUR")


def pick(result, *keys):
    return {key: result[key] for key in keys}


class TestPeriods:
    def test_local_days_become_utc_instants_across_a_time_change(self):
        assert (OCTOBER.start, OCTOBER.end) == (datetime(2026, 9, 30, 22, tzinfo=UTC),
                                                datetime(2026, 10, 31, 23, tzinfo=UTC))
        previous = OCTOBER.previous()
        assert (previous.first_day, previous.last_day, previous.days) == (date(2026, 8, 31), date(2026, 9, 30), 31)
        assert previous.end == OCTOBER.start

    def test_default_is_the_last_30_days_up_to_today(self):
        period = services.make_period(None, None, ZONE, today_=date(2026, 11, 16))
        assert (period.first_day, period.last_day, period.days) == (date(2026, 10, 18), date(2026, 11, 16), 30)

    @pytest.mark.parametrize("first, last, field", [
        (date(2026, 10, 2), date(2026, 10, 1), "to"),
        (date(2025, 1, 1), date(2026, 1, 2), "to"),            # 367 days
        ("01/10/2026", date(2026, 10, 2), "from"),
        ("2026-02-30", date(2026, 10, 2), "from"),
        (20261001, date(2026, 10, 2), "from"),
        (date(1, 1, 1), date(2026, 10, 2), "from"),
        (date(2026, 1, 1), date(9999, 12, 31), "to"),
    ])
    def test_bad_periods_are_refused(self, first, last, field):
        with pytest.raises(ValidationFailed) as err:
            services.make_period(first, last, ZONE, today_=date(2026, 11, 16))
        assert field in err.value.fields

    def test_iso_dates_as_text_are_read(self):
        assert services.make_period(" 2026-10-01", "2026-10-31", ZONE) == OCTOBER
        assert services.make_period("", "2026-10-31", ZONE).first_day == date(2026, 10, 2)

    def test_a_year_and_a_leap_day_is_allowed(self):
        assert services.make_period(date(2027, 3, 1), date(2028, 2, 29), ZONE).days == 366


class TestSurveys:
    def test_nps_csat_ces_of_the_period(self, dataset):
        result = october()
        # NPS 10, 9, 7, 3, 0: two promoters, one passive, two detractors
        assert pick(result, "nps", "nps_answers", "promoters", "passives", "detractors") == {
            "nps": 0.0, "nps_answers": 5, "promoters": 2, "passives": 1, "detractors": 2}
        assert result["csat"] == pytest.approx(200 / 3) and result["csat_answers"] == 3  # 5, 4, 2
        assert (result["ces"], result["ces_answers"]) == (3.5, 2)  # 2, 5

    def test_previous_period(self, dataset):
        result = september()  # NPS 10, 10, 6
        assert result["nps"] == pytest.approx(100 / 3) and result["nps_answers"] == 3
        assert (result["csat"], result["ces"], result["csat_answers"]) == (None, None, 0)

    def test_filtered_through_the_contact(self, dataset, agent2):
        by_agent = october({"agent_id": agent2.id})  # NPS 7, 3; CSAT 4, 2; CES 5
        assert pick(by_agent, "nps", "nps_answers", "csat", "ces") == {
            "nps": -50.0, "nps_answers": 2, "csat": 50.0, "ces": 5.0}
        by_team = october({"team_id": dataset["sales"]})  # the visit: NPS 7, CSAT 4
        assert pick(by_team, "nps", "csat", "ces", "ces_answers") == {
            "nps": 0.0, "csat": 100.0, "ces": None, "ces_answers": 0}
        assert october({"channel": "email"})["nps_answers"] == 1  # the 3 about the emailed complaint

    def test_filtered_through_the_customer(self, dataset):
        result = october({"segment": "Particular"})  # NPS 10, 9, 0; CSAT 5; CES 2
        assert result["nps"] == pytest.approx(100 / 3)
        assert (result["csat"], result["ces"]) == (100.0, 2.0)
        assert october({"tier": "premium"})["nps_answers"] == 2


class TestFirstContactResolution:
    def test_incidents_resolved_in_the_period(self, dataset):
        # resolved in October: #1 on contact 1, #2 on 2, #3 on 3, #4 on 1, #5 on 2 (began in September)
        result = october()
        assert pick(result, "incidents_resolved", "resolved_first_contact", "resolved_by_second_contact",
                    "fcr_first", "fcr_second", "fcr_target", "fcr_target_met") == {
            "incidents_resolved": 5, "resolved_first_contact": 2, "resolved_by_second_contact": 4,
            "fcr_first": 40.0, "fcr_second": 80.0, "fcr_target": 90.0, "fcr_target_met": False}

    def test_previous_period(self, dataset):
        result = september()  # #8 on contact 1, #9 on 2
        assert pick(result, "incidents_resolved", "fcr_first", "fcr_second") == {
            "incidents_resolved": 2, "fcr_first": 50.0, "fcr_second": 100.0}

    def test_an_incident_belongs_to_its_first_contact(self, dataset, agent2):
        assert pick(october({"agent_id": agent2.id}), "incidents_resolved", "fcr_first", "fcr_second") == {
            "incidents_resolved": 2, "fcr_first": 50.0, "fcr_second": 50.0}  # #3, #4
        assert pick(october({"channel": "email"}), "incidents_resolved", "fcr_first") == {
            "incidents_resolved": 1, "fcr_first": 0.0}
        sales = october({"team_id": dataset["sales"]})
        assert pick(sales, "incidents_resolved", "fcr_first", "fcr_target_met") == {
            "incidents_resolved": 1, "fcr_first": 100.0, "fcr_target_met": True}
        assert october({"moment_type": "visit"})["incidents_resolved"] == 1
        assert pick(october({"segment": "Empresa"}), "incidents_resolved", "fcr_first") == {
            "incidents_resolved": 2, "fcr_first": 50.0}

    def test_the_target_comes_from_the_configuration(self, app, dataset):
        assert october(fcr_target=0.4)["fcr_target_met"] is True
        app.config["CRM_FCR_TARGET"] = 0.35
        try:
            assert october()["fcr_target"] == 35.0
        finally:
            app.config["CRM_FCR_TARGET"] = services.DEFAULT_FCR_TARGET

    def test_nothing_resolved_means_no_rate(self, dataset):
        empty = services.compute_metrics(at(6, 1), at(7, 1), zone=ZONE)
        assert pick(empty, "incidents_resolved", "fcr_first", "fcr_target_met") == {
            "incidents_resolved": 0, "fcr_first": None, "fcr_target_met": None}


class TestServiceLevels:
    def test_commitments_due_in_the_period(self, dataset):
        result = october()
        # first responses: on time #1; late #2 (met after its due time) and #3 (breached)
        # resolutions: on time #1 and #2; breached #3. The open and paused ones wait.
        assert pick(result, "sla_first_response_met", "sla_first_response_breached", "sla_resolution_met",
                    "sla_resolution_breached", "breaches") == {
            "sla_first_response_met": 1, "sla_first_response_breached": 2, "sla_resolution_met": 2,
            "sla_resolution_breached": 1, "breaches": 3}
        assert result["sla_first_response"] == pytest.approx(100 / 3)
        assert result["sla_resolution"] == pytest.approx(200 / 3)

    def test_previous_period_and_filters(self, dataset, agent2):
        previous = september()
        assert pick(previous, "sla_first_response", "sla_resolution", "breaches") == {
            "sla_first_response": 100.0, "sla_resolution": 0.0, "breaches": 1}
        assert pick(october({"agent_id": agent2.id}), "sla_first_response", "sla_resolution", "breaches") == {
            "sla_first_response": 0.0, "sla_resolution": 0.0, "breaches": 2}
        assert pick(october({"segment": "Particular"}), "sla_first_response", "sla_resolution", "breaches") == {
            "sla_first_response": 50.0, "sla_resolution": 100.0, "breaches": 1}


class TestCostsAndRevenue:
    def test_compensations_contacts_cost_to_serve_and_revenue(self, dataset):
        result = october()
        # issued in October: 10 € (cost 6) and 5 € (cost 2.50); the approved one and the one
        # issued on 1 November (Madrid) are left out
        assert pick(result, "compensations_issued", "compensations_value", "compensations_cost") == {
            "compensations_issued": 2, "compensations_value": Decimal("15.00"),
            "compensations_cost": Decimal("8.50")}
        # nine contacts in October: eight complaints at 18 € and a visit at 5 €
        assert (result["contacts"], result["contact_cost"]) == (9, Decimal("149.00"))
        assert result["cost_to_serve"] == Decimal("157.50")
        # purchases on 1 and 31 October in euros; the dollars are counted apart
        assert (result["revenue"], result["purchases_other_currency"], result["currency"]) == (
            Decimal("350.50"), 1, "EUR")

    def test_previous_period(self, dataset):
        result = september()
        assert pick(result, "compensations_issued", "compensations_cost", "contacts", "contact_cost",
                    "cost_to_serve", "revenue") == {
            "compensations_issued": 1, "compensations_cost": Decimal("6.00"), "contacts": 4,
            "contact_cost": Decimal("72.00"), "cost_to_serve": Decimal("78.00"), "revenue": Decimal("30.00")}

    def test_filters(self, dataset, agent2):
        result = october({"agent_id": agent2.id})  # three complaint contacts and the visit; one compensation
        assert pick(result, "contacts", "contact_cost", "compensations_cost", "cost_to_serve") == {
            "contacts": 4, "contact_cost": Decimal("59.00"), "compensations_cost": Decimal("6.00"),
            "cost_to_serve": Decimal("65.00")}
        # revenue belongs to customers, not to agents: only the customer filters narrow it
        assert result["revenue"] == Decimal("350.50")
        assert october({"segment": "Particular"})["revenue"] == Decimal("100.00")
        assert october({"tier": "premium"})["revenue"] == Decimal("250.50")

    def test_another_company_currency(self, dataset):
        result = october(currency="USD")
        assert (result["revenue"], result["purchases_other_currency"]) == (Decimal("80.00"), 2)


class TestChurnAndRetention:
    def test_churn_of_the_period(self, dataset):
        result = october()
        # at the start: Ana, Bruno, Clara, Félix, Gema (Diego had churned, Elena did not exist yet);
        # lost: Clara, and Félix (churned twice, counted once)
        assert pick(result, "customers_at_start", "customers_lost") == {"customers_at_start": 5, "customers_lost": 2}
        assert result["churn_rate"] == 40.0
        assert result["churn_by_segment"] == [
            {"segment": "Empresa", "at_start": 2, "lost": 1, "rate": 50.0},
            {"segment": "Particular", "at_start": 2, "lost": 1, "rate": 50.0},
            {"segment": None, "at_start": 1, "lost": 0, "rate": 0.0},
        ]

    def test_churn_of_the_previous_period(self, dataset):
        result = september()  # six customers at its start, Diego lost
        assert pick(result, "customers_at_start", "customers_lost") == {"customers_at_start": 6, "customers_lost": 1}
        assert result["churn_rate"] == pytest.approx(100 / 6)

    def test_churn_follows_the_customer_filters(self, dataset):
        result = october({"segment": "Empresa", "channel": "phone"})
        assert pick(result, "customers_at_start", "customers_lost", "churn_rate") == {
            "customers_at_start": 2, "customers_lost": 1, "churn_rate": 50.0}
        assert [row["segment"] for row in result["churn_by_segment"]] == ["Empresa"]

    def test_retention_by_monthly_signup_cohort(self, dataset):
        result = october()
        cohorts = {row["month"]: row for row in result["retention_by_cohort"]}
        assert [row["month"] for row in result["retention_by_cohort"]] == (
            [date(2025, 11, 1), date(2025, 12, 1)] + [date(2026, m, 1) for m in range(1, 11)])
        assert cohorts[date(2026, 1, 1)] == {"month": date(2026, 1, 1), "customers": 3, "retained": 3,
                                             "rate": 100.0}
        assert (cohorts[date(2026, 2, 1)]["customers"], cohorts[date(2026, 2, 1)]["retained"]) == (2, 0)
        assert (cohorts[date(2026, 3, 1)]["rate"], cohorts[date(2026, 10, 1)]["rate"]) == (0.0, 0.0)
        assert cohorts[date(2025, 11, 1)] == {"month": date(2025, 11, 1), "customers": 0, "retained": 0,
                                              "rate": None}
        assert pick(result, "cohort_customers", "cohort_retained") == {"cohort_customers": 7, "cohort_retained": 3}
        assert result["retention"] == pytest.approx(300 / 7)

    def test_retention_at_the_end_of_the_previous_period(self, dataset):
        result = september()
        cohorts = {row["month"]: row for row in result["retention_by_cohort"]}
        assert cohorts[date(2026, 2, 1)]["retained"] == 2  # Clara and Félix churned later
        assert cohorts[date(2026, 3, 1)]["retained"] == 0  # Diego churned on 5 September
        assert date(2026, 10, 1) not in cohorts
        assert result["retention"] == pytest.approx(500 / 6)

    def test_retention_by_tier(self, dataset):
        result = october({"tier": "premium"})
        assert pick(result, "cohort_customers", "cohort_retained", "customers_at_start") == {
            "cohort_customers": 1, "cohort_retained": 1, "customers_at_start": 1}


class TestReport:
    def test_every_figure_has_its_previous_value_and_change(self, dataset):
        report = services.metrics_report(date(2026, 10, 1), date(2026, 10, 31), {}, zone=ZONE, now=NOW,
                                         currency="EUR")
        assert report["period"] == OCTOBER and report["previous_period"] == OCTOBER.previous()
        assert report["current"] == october() and report["previous"] == september()
        change = report["change"]
        assert set(change) == set(services.FIGURES)
        assert change["nps"] == pytest.approx(-100 / 3)
        assert change["fcr_first"] == -10.0
        assert change["revenue"] == Decimal("320.50")
        assert change["cost_to_serve"] == Decimal("79.50")
        assert change["csat"] is None  # no CSAT answers in September

    def test_bad_filters_are_refused_all_at_once(self, dataset):
        with pytest.raises(ValidationFailed) as err:
            services.metrics_report(date(2026, 10, 1), date(2026, 10, 31),
                                    {"channel": "pigeon", "tier": "gold", "team_id": "999999", "agent_id": "x",
                                     "moment_type": "nope", "segment": "a" * 61}, zone=ZONE, now=NOW)
        assert set(err.value.fields) == {"channel", "tier", "team_id", "agent_id", "moment_type", "segment"}

    def test_filters_accept_ids_as_text_and_moment_types_by_code_or_id(self, dataset, agent2):
        by_code = services.clean_filters({"moment_type": "visit", "team_id": str(dataset["sales"])})
        assert by_code == services.Filters(team_id=dataset["sales"], moment_type_id=dataset["visit"])
        assert services.clean_filters({"moment_type": str(dataset["visit"])}).moment_type_id == dataset["visit"]
        assert services.clean_filters({"agent_id": agent2.id, "segment": " "}) == services.Filters(agent_id=agent2.id)

    def test_a_constant_number_of_queries(self, app, dataset, monkeypatch):
        from sqlalchemy import event

        # The source tables alone (the daily rollup has its own tests: tests/services/test_rollup.py).
        monkeypatch.setitem(app.config, "CRM_ROLLUPS", False)
        statements = []

        def count(*_args):
            statements.append(1)

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            october({"segment": "Particular", "channel": "phone"})
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert len(statements) == 8

    def test_empty_database(self, ctx):
        result = october()
        assert pick(result, "nps", "csat", "fcr_first", "sla_first_response", "churn_rate", "retention",
                    "revenue", "cost_to_serve") == {
            "nps": None, "csat": None, "fcr_first": None, "sla_first_response": None, "churn_rate": None,
            "retention": None, "revenue": Decimal("0.00"), "cost_to_serve": Decimal("0.00")}
