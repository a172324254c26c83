"""The daily rollup gives exactly the figures the source tables give, for any period and
filter, before and after writes that change days it already holds."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from crm.compensations.models import Compensation
from crm.customers.models import Customer
from crm.customers.purchases import record_purchase
from crm.customers.services import update_customer
from crm.extensions import db
from crm.insights import journey, rollup, services
from crm.insights.rollup import RollupDay, RollupDirty, RollupFigures
from crm.moments.models import Commitment, Moment
from crm.moments.services import log_moment
from crm.moments.sweep import sweep_commitments
from tests.conftest import NOW
from tests.services.test_insights import ZONE, at, build_dataset

FIRST, LAST = date(2026, 8, 1), date(2026, 11, 30)
FILTERS = [{}, {"segment": "Particular"}, {"segment": "Empresa"}, {"tier": "premium"}, {"channel": "phone"},
           {"moment_type": "complaint"}, {"moment_type": "visit", "segment": "Particular"}]
FIGURES = [*services.FIGURES, "churn_by_segment", "retention_by_cohort"]


@pytest.fixture
def dataset(ctx, admin, agent, make_user):
    agent2 = make_user("agent", email="agent2@example.es", name="Pablo Ruiz")
    data = build_dataset(admin.id, agent.id, agent2.id)
    data["team_filters"] = [{"team_id": data["care"]}, {"team_id": data["sales"], "segment": "Empresa"}]
    return data


def figures(first: date, last: date, filters: dict, *, rollups: bool, app) -> dict:
    app.config["CRM_ROLLUPS"] = rollups
    try:
        period = services.Period(first, last, ZONE)
        result = services.compute_metrics(period.start, period.end, filters, zone=ZONE, currency="EUR")
    finally:
        app.config["CRM_ROLLUPS"] = True
    return {key: result[key] for key in FIGURES}


def refresh() -> int:
    return rollup.refresh_all(NOW, db.session.commit, zone=ZONE)


def assert_same(app, first, last, filters):
    live = figures(first, last, filters, rollups=False, app=app)
    assert figures(first, last, filters, rollups=True, app=app) == live, (first, last, filters)
    return live


def served(first, last):
    days, live = rollup.split_days(first, last, ZONE)
    return days, live


def test_refresh_builds_every_day_with_data_and_then_has_nothing_to_do(dataset):
    assert served(FIRST, LAST)[0] == []  # nothing built: every day is counted live
    built = refresh()
    first = rollup.first_day(ZONE)
    assert first == min(services.today(ZONE, db.session.scalar(select(func.min(column))))
                        for column in (Moment.occurred_at, Commitment.due_at, Customer.created_at))
    assert built == (services.today(ZONE, NOW) - first).days + 1
    assert db.session.scalar(select(func.count()).select_from(RollupDay)) == built
    days, live = served(first, date(2026, 10, 31))
    assert len(days) == (date(2026, 10, 31) - first).days + 1 and live == []
    # Days before the first contact hold nothing and are not built: counting them live is free.
    assert served(first - timedelta(days=3), first)[1] == [(first - timedelta(days=3), first - timedelta(days=1))]
    assert db.session.scalar(select(func.count()).select_from(RollupFigures)) > 0
    assert refresh() == 0


def test_the_rollup_and_the_source_tables_agree(app, dataset):
    refresh()
    for filters in [*FILTERS, *dataset["team_filters"]]:
        assert_same(app, date(2026, 10, 1), date(2026, 10, 31), filters)
        assert_same(app, date(2026, 9, 1), date(2026, 9, 30), filters)
    everything = figures(date(2026, 10, 1), date(2026, 10, 31), {}, rollups=True, app=app)
    assert everything["contacts"] > 0 and everything["nps_answers"] > 0 and everything["compensations_issued"] > 0
    assert everything["revenue"] > 0 and everything["sla_first_response_met"] + everything["breaches"] > 0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=st.integers(min_value=0, max_value=110), length=st.integers(min_value=1, max_value=70),
       which=st.integers(min_value=0, max_value=len(FILTERS) - 1))
def test_any_period_and_filter_agree(app, dataset, start, length, which):
    if not db.session.scalar(select(func.count()).select_from(RollupDay)):
        refresh()
    first = FIRST + timedelta(days=start)
    assert_same(app, first, first + timedelta(days=length - 1), FILTERS[which])


def test_writes_after_a_refresh_mark_their_days_and_figures_stay_exact(app, dataset, agent, admin):
    refresh()
    october = (date(2026, 10, 1), date(2026, 10, 31))
    before = assert_same(app, *october, {})
    customers = dataset["customers"]
    # A contact logged late for a day the rollup already holds.
    log_moment(agent, {"customer_id": customers[0], "moment_type": "complaint", "occurred_at": at(10, 20),
                       "emotion": -2, "cost": "7.00"}, NOW)
    # A commitment of October met (on time or late), a purchase dated in October.
    commitment = db.session.scalar(select(Commitment).where(Commitment.status == "open",
                                                            Commitment.due_at >= at(10, 1)).limit(1))
    if commitment is not None:
        commitment.status, commitment.met_at = "met", commitment.due_at - timedelta(minutes=5)
    record_purchase(agent, {"customer_id": customers[1], "amount": "120.50", "purchased_on": "2026-10-07"}, NOW)
    # A compensation's cost corrected by hand.
    compensation = db.session.scalar(select(Compensation).where(
        Compensation.status == "issued", Compensation.issued_at >= at(10, 1), Compensation.issued_at < at(10, 31)))
    compensation.cost = compensation.cost + Decimal("3.00")
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(RollupDirty)) > 0
    days, live = served(*october)
    assert live  # the changed days are counted live until the next refresh
    after = assert_same(app, *october, {})
    assert after["contacts"] == before["contacts"] + 1
    assert after["revenue"] == before["revenue"] + Decimal("120.50")
    assert after["compensations_cost"] == before["compensations_cost"] + Decimal("3.00")
    assert refresh() > 0
    assert served(*october)[1] == [] and db.session.scalar(select(func.count()).select_from(RollupDirty)) == 0
    assert assert_same(app, *october, {}) == after


def test_a_customer_who_changes_segment_moves_between_rows(app, dataset, agent):
    refresh()
    october = (date(2026, 10, 1), date(2026, 10, 31))
    particular = assert_same(app, *october, {"segment": "Particular"})
    moved = db.session.get(Customer, dataset["customers"][0])
    update_customer(agent, moved, {"segment": "Empresa"}, NOW)
    db.session.commit()
    now_particular = assert_same(app, *october, {"segment": "Particular"})
    assert now_particular["contacts"] < particular["contacts"]
    refresh()
    assert served(*october)[1] == []
    assert assert_same(app, *october, {"segment": "Particular"}) == now_particular
    assert_same(app, *october, {"segment": "Empresa"})


def test_the_breach_sweep_marks_the_days_it_breaks(app, dataset):
    refresh()
    open_due = db.session.scalar(select(func.count()).select_from(Commitment).where(
        Commitment.status == "open", Commitment.due_at <= NOW))
    assert open_due > 0  # the dataset leaves some for the sweep
    sweep_commitments(NOW)
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(RollupDirty)) > 0
    assert_same(app, date(2026, 10, 1), date(2026, 10, 31), {})
    refresh()
    assert_same(app, date(2026, 10, 1), date(2026, 10, 31), {})


def test_a_marker_written_during_a_refresh_survives_it(dataset, monkeypatch):
    refresh()
    day = date(2026, 10, 12)
    build = rollup.build.build_days

    def build_while_someone_writes(days, zone, now):
        # A write that commits after the refresh read the markers: its marker was not among them.
        db.session.connection().execute(RollupDirty.__table__.insert(), {"day": day})
        build(days, zone, now)

    rollup.mark_instants([at(10, 12, 12)], ZONE)
    monkeypatch.setattr(rollup.build, "build_days", build_while_someone_writes)
    assert rollup.refresh(NOW, zone=ZONE) == 1
    db.session.commit()
    assert db.session.scalars(select(RollupDirty.day)).all() == [day]
    assert served(day, day) == ([], [(day, day)])


def test_another_time_zone_is_never_read_from_the_rollup(app, dataset):
    refresh()
    assert served(date(2026, 10, 1), date(2026, 10, 31))[1] == []
    days, live = rollup.split_days(date(2026, 10, 1), date(2026, 10, 31), "America/New_York")
    assert days == [] and live == [(date(2026, 10, 1), date(2026, 10, 31))]
    rollup.refresh(NOW, zone="America/New_York", max_days=5)
    db.session.commit()
    assert set(db.session.scalars(select(RollupDay.zone))) == {"America/New_York"}


def test_periods_that_are_not_whole_local_days_are_counted_live(dataset):
    refresh()
    assert rollup.whole_days(at(10, 1), at(10, 2), ZONE) is None  # 10:00 UTC is not a Madrid midnight
    period = services.Period(date(2026, 10, 24), date(2026, 10, 26), ZONE)  # summer time ends on the 25th
    assert rollup.whole_days(period.start, period.end, ZONE) == (date(2026, 10, 24), date(2026, 10, 26))


def test_the_journey_map_agrees(app, dataset):
    refresh()
    for scope in (journey.Scope(), journey.Scope(segment="Particular")):
        period = services.Period(date(2026, 10, 1), date(2026, 10, 31), ZONE)
        app.config["CRM_ROLLUPS"] = False
        live = journey._raw(period.start, period.end, scope)
        app.config["CRM_ROLLUPS"] = True
        assert journey._raw(period.start, period.end, scope) == live
        assert live


def test_the_scheduler_refreshes_every_minute_and_survives_errors(app, dataset, monkeypatch, caplog):
    from crm import scheduler

    job = scheduler.build_scheduler(app).get_job("refresh_rollups")
    assert job.trigger.interval == timedelta(minutes=1) and job.max_instances == 1
    db.session.commit()
    scheduler.refresh_rollups_job(app)
    assert db.session.scalar(select(func.count()).select_from(RollupDay)) > 0

    def broken(*_args, **_kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr("crm.insights.rollup.build.refresh", broken)
    scheduler.refresh_rollups_job(app)
    assert "rollup refresh failed" in caplog.text


def test_the_cli_refreshes(app, dataset):
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["crm", "refresh-rollups", "--now", NOW.isoformat()])
    assert result.exit_code == 0, result.output
    built = db.session.scalar(select(func.count()).select_from(RollupDay))
    assert built > 0 and f"{built} days rebuilt" in result.output
    again = app.test_cli_runner().invoke(args=["crm", "refresh-rollups", "--now", NOW.isoformat()])
    assert "0 days rebuilt" in again.output


def test_one_refresh_at_a_time_on_postgresql(dataset):
    db.session.commit()
    if db.engine.dialect.name != "postgresql":
        # SQLite has one writer at a time: a second refresh simply waits for the first.
        assert rollup.refresh(NOW, zone=ZONE) > 0
        return
    from sqlalchemy import text

    with db.engine.connect() as other:
        other.execute(text("SELECT pg_advisory_lock(:key)"), {"key": rollup.ADVISORY_LOCK})
        try:
            assert rollup.refresh(NOW, zone=ZONE) == 0  # another scheduler holds it
            db.session.rollback()
        finally:
            other.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": rollup.ADVISORY_LOCK})
    assert rollup.refresh(NOW, zone=ZONE) > 0


def test_a_period_read_from_the_rollup_costs_the_same_few_queries_however_much_data(app, dataset, agent):
    from sqlalchemy import event

    def count():
        statements = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            figures(date(2026, 10, 1), date(2026, 10, 31), {"segment": "Particular"}, rollups=True, app=app)
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return statements

    refresh()
    small = count()
    for day in range(1, 29):
        log_moment(agent, {"customer_id": dataset["customers"][day % 6], "moment_type": "visit",
                           "occurred_at": at(10, day), "emotion": 1}, NOW)
    db.session.commit()
    refresh()
    large = count()
    assert len(small) == len(large) <= 16
    assert not any("FROM moments" in s for s in large)  # no contact is read: every day comes from the rollup


def test_a_report_reads_the_customers_before_its_start_once(app, dataset, monkeypatch):
    """The current period's start is the previous period's end: churn asks for it, retention
    asks for it again, and the rollup is read once."""
    from crm.insights import churn

    refresh()
    asked = []
    real = churn.customers_before
    monkeypatch.setattr(churn, "customers_before", lambda instant, *a, **k: asked.append(instant) or real(instant, *a, **k))
    report = services.metrics_report(date(2026, 10, 1), date(2026, 10, 31), {"segment": "Particular"}, zone=ZONE,
                                     now=NOW)
    period = report["period"]
    assert sorted(asked) == sorted({report["previous_period"].start, period.start, period.end})
    assert report["current"]["customers_at_start"] == figures(
        date(2026, 10, 1), date(2026, 10, 31), {"segment": "Particular"}, rollups=False, app=app)["customers_at_start"]
