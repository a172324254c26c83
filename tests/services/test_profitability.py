"""Profit per customer on a hand-built dataset, tier recomputation with history, decisions."""
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from crm.audit import AuditEvent
from crm.auth.models import User
from crm.compensations.models import Compensation
from crm.customers.models import Customer, Purchase
from crm.domain import NotFound, ValidationFailed
from crm.extensions import db
from crm.insights import profitability as service
from crm.insights.models import CustomerDecision, TierChange
from crm.insights.tier_rules import TierRule
from crm.moments.models import Moment
from tests.conftest import NOW

D = Decimal
ZONE = "Europe/Madrid"
# The last 365 local days up to NOW (2026-11-16): 2025-11-17 … 2026-11-16, Madrid time (UTC+1 then).
START = datetime(2025, 11, 16, 23, 0, tzinfo=timezone.utc)
END = datetime(2026, 11, 16, 23, 0, tzinfo=timezone.utc)
THRESHOLDS = TierRule("thresholds", D("1000"), D("0"), 365, True)


@pytest.fixture
def data(ctx, agent, moment_type):
    """A earns well, B a little (everything at the period's edges), C costs more than it
    brings, D has done nothing. Everything outside the period or the currency is noise."""
    ids = {}
    for key in "ABCD":
        customer = Customer(name=f"Customer {key}", sort_name=f"customer {key.lower()}", tier="standard")
        db.session.add(customer)
        db.session.flush()
        ids[key] = customer.id

    def purchase(key, amount, on, currency="EUR"):
        db.session.add(Purchase(customer_id=ids[key], amount=D(amount), currency=currency, purchased_on=on))

    def moment(key, at, cost="18.00"):
        db.session.add(Moment(customer_id=ids[key], moment_type_id=moment_type, channel="phone", occurred_at=at,
                              cost=D(cost)))

    def compensation(key, cost, at, status="issued"):
        db.session.add(Compensation(customer_id=ids[key], kind="gift", value=D(cost) * 2, cost=D(cost),
                                    status=status, proposed_at=at, issued_at=at if status == "issued" else None))

    purchase("A", "1500.00", date(2026, 6, 1))
    purchase("A", "200.00", date(2026, 6, 1), currency="USD")  # another currency: not counted
    purchase("A", "300.00", date(2025, 11, 16))  # the day before the period
    purchase("A", "999.00", date(2026, 11, 17))  # the day after
    moment("A", datetime(2026, 3, 1, 9, tzinfo=timezone.utc))
    moment("A", START - timedelta(seconds=1), cost="500")  # just before the period
    compensation("A", "5.00", datetime(2026, 3, 2, 9, tzinfo=timezone.utc))
    compensation("A", "7.00", datetime(2026, 3, 3, 9, tzinfo=timezone.utc), status="proposed")
    compensation("A", "9.00", datetime(2026, 3, 3, 9, tzinfo=timezone.utc), status="approved")

    purchase("B", "100.00", date(2025, 11, 17))  # the period's first day
    moment("B", START)  # its first instant
    moment("B", END, cost="300")  # the end is excluded
    compensation("B", "50.00", END)

    moment("C", datetime(2026, 1, 10, 9, tzinfo=timezone.utc))
    moment("C", datetime(2026, 11, 16, 9, tzinfo=timezone.utc))
    compensation("C", "40.00", datetime(2026, 11, 16, 9, 30, tzinfo=timezone.utc))
    db.session.commit()
    return ids


def period():
    return service.period_for(365, NOW, ZONE)


def test_the_period_is_the_last_whole_local_days():
    p = period()
    assert (p.first_day, p.last_day, p.start, p.end) == (date(2025, 11, 17), date(2026, 11, 16), START, END)


def test_profit_per_customer(data):
    figures = {row.id: row for row in service.customer_profits(period(), "EUR")}
    a, b, c, d = (figures[data[k]] for k in "ABCD")
    assert (a.revenue, a.contact_cost, a.compensation_cost, a.cost_to_serve, a.profit) == \
        (D("1500.00"), D("18.00"), D("5.00"), D("23.00"), D("1477.00"))
    assert (b.revenue, b.cost_to_serve, b.profit) == (D("100.00"), D("18.00"), D("82.00"))
    assert (c.revenue, c.contact_cost, c.compensation_cost, c.profit) == (D("0.00"), D("36.00"), D("40.00"),
                                                                          D("-76.00"))
    assert (d.revenue, d.cost_to_serve, d.profit) == (D("0.00"), D("0.00"), D("0.00"))
    # In dollars only A's dollar purchase counts.
    dollars = {row.id: row.revenue for row in service.customer_profits(period(), "USD")}
    assert dollars[data["A"]] == D("200.00") and dollars[data["B"]] == D("0.00")


def test_lists_of_customers_by_profit(data):
    names = lambda page: [row.name for row in page.items]  # noqa: E731
    top = service.profit_page(period(), "top", 1, per_page=2, currency="EUR")
    assert names(top) == ["Customer A", "Customer B"] and top.total == 4 and top.has_next
    bottom = service.profit_page(period(), "bottom", 1, per_page=10, currency="EUR")
    assert names(bottom) == ["Customer C", "Customer D", "Customer B", "Customer A"]
    unprofitable = service.profit_page(period(), "unprofitable", 1, currency="EUR")
    assert names(unprofitable) == ["Customer C"] and not unprofitable.has_next
    with pytest.raises(ValidationFailed):
        service.profit_page(period(), "sideways", 1)


def tiers(ids):
    db.session.expire_all()
    return {key: db.session.get(Customer, cid).tier for key, cid in ids.items()}


def test_recompute_changes_only_what_must_change_and_keeps_history(data):
    result = service.recompute_tiers(NOW, rule=THRESHOLDS, zone=ZONE, currency="EUR")
    db.session.commit()
    assert (result.customers, result.changed, result.by_tier) == (4, 2, {"premium": 1, "basic": 1})
    assert tiers(data) == {"A": "premium", "B": "standard", "C": "basic", "D": "standard"}
    history = {row.customer_id: row for row in db.session.scalars(select(TierChange))}
    assert set(history) == {data["A"], data["C"]}
    a, c = history[data["A"]], history[data["C"]]
    assert (a.from_tier, a.to_tier, a.profit, a.user_id, a.at) == ("standard", "premium", D("1477.00"), None, NOW)
    assert (c.from_tier, c.to_tier, c.profit) == ("standard", "basic", D("-76.00"))
    assert "thresholds" in c.rule and "premium >= 1000" in c.rule and "-76.00 EUR" in c.reason
    # Idempotent: the second run changes and writes nothing.
    again = service.recompute_tiers(NOW + timedelta(minutes=1), rule=THRESHOLDS, zone=ZONE, currency="EUR")
    db.session.commit()
    assert again.changed == 0
    assert db.session.scalar(select(func.count(TierChange.id))) == 2


def test_recompute_with_percentiles_and_a_person(data, agent, admin):
    actor = db.session.get(User, admin.id)
    db.session.get(Customer, data["D"]).tier = "premium"  # set by hand earlier
    db.session.commit()
    rule = TierRule("percentiles", D("25"), D("50"), 365, True)  # 4 customers: 1 premium, 2 standard
    result = service.recompute_tiers(NOW, actor, rule=rule, zone=ZONE, currency="EUR")
    db.session.commit()
    assert tiers(data) == {"A": "premium", "B": "standard", "C": "basic", "D": "standard"}
    assert result.changed == 3
    moves = set(db.session.execute(select(TierChange.customer_id, TierChange.from_tier, TierChange.to_tier,
                                          TierChange.user_id)).all())
    assert moves == {(data["A"], "standard", "premium", admin.id), (data["C"], "standard", "basic", admin.id),
                     (data["D"], "premium", "standard", admin.id)}
    assert db.session.scalar(select(AuditEvent.details).where(AuditEvent.action == "tiers.recomputed"))[
        "changed"] == 3


def test_checkpoints_commit_in_steps(data, monkeypatch):
    monkeypatch.setattr(service, "CHUNK", 1)
    calls = []
    service.recompute_tiers(NOW, rule=THRESHOLDS, zone=ZONE, currency="EUR",
                            checkpoint=lambda: calls.append(db.session.commit()))
    assert len(calls) == 2


def test_an_inactive_rule_changes_nothing(data):
    result = service.recompute_tiers(NOW, rule=TierRule("thresholds", D("1"), D("0"), 365, False))
    assert result.skipped and result.changed == 0
    assert db.session.scalar(select(func.count(TierChange.id))) == 0


def test_the_saved_rule_is_used(data, admin):
    actor = db.session.get(User, admin.id)
    assert service.get_rule() == service.DEFAULT_RULE and not service.get_rule().active
    service.save_rule(actor, {"mode": "thresholds", "premium": "50", "standard": "-100", "period_days": "365",
                              "active": True}, NOW)
    db.session.commit()
    service.recompute_tiers(NOW, zone=ZONE)
    db.session.commit()
    assert tiers(data) == {"A": "premium", "B": "premium", "C": "standard", "D": "standard"}
    with pytest.raises(ValidationFailed) as err:
        service.save_rule(actor, {"mode": "thresholds", "premium": "5", "standard": "10", "period_days": "30"},
                          NOW)
    assert set(err.value.fields) == {"premium"}
    db.session.rollback()
    assert service.get_rule().premium == D("50.00")


def test_keep_or_end_decisions(data, supervisor):
    actor = db.session.get(User, supervisor.id)
    decision = service.decide_customer(actor, data["C"], {"decision": "keep", "reason": "Cliente estratégico"},
                                       NOW)
    db.session.commit()
    assert (decision.decision, decision.reason, decision.user_id) == ("keep", "Cliente estratégico", supervisor.id)
    assert decision.profit == D("-76.00")  # the profit as seen then
    later = service.decide_customer(actor, data["C"], {"decision": "end", "reason": "Sin mejora"},
                                    NOW + timedelta(days=1))
    db.session.commit()
    assert service.latest_decisions([data["C"], data["A"]]) == {data["C"]: later}
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.entity == "customer",
                                                                      AuditEvent.entity_id == data["C"])) == 2
    with pytest.raises(ValidationFailed) as err:
        service.decide_customer(actor, data["C"], {"decision": "maybe", "reason": " "}, NOW)
    assert set(err.value.fields) == {"decision", "reason"}
    with pytest.raises(NotFound):
        service.decide_customer(actor, 10**9, {"decision": "keep", "reason": "x"}, NOW)
    db.session.rollback()
    assert db.session.scalar(select(func.count(CustomerDecision.id))) == 2


def test_cli_recompute_tiers(app, runner, data, admin):
    with app.app_context():
        service.save_rule(None, {"mode": "thresholds", "premium": "1000", "standard": "0", "period_days": "365",
                                 "active": True}, NOW)
        db.session.commit()
    bad = runner.invoke(args=["crm", "recompute-tiers", "--now", "yesterday"])
    assert bad.exit_code != 0 and "ISO instant" in bad.output
    first = runner.invoke(args=["crm", "recompute-tiers", "--now", "2026-11-16T11:00:00+01:00"])
    assert first.exit_code == 0, first.output
    assert "4 customers, 2 tier changes (1 to basic, 1 to premium)" in first.output
    second = runner.invoke(args=["crm", "recompute-tiers", "--now", "2026-11-16T11:05:00+01:00"])
    assert "0 tier changes" in second.output
    with app.app_context():
        assert db.session.scalar(select(func.count(TierChange.id))) == 2
        assert db.session.scalar(select(Customer.tier).where(Customer.id == data["A"])) == "premium"


def test_nightly_job(app, data, monkeypatch, caplog):
    from apscheduler.triggers.cron import CronTrigger

    from crm import scheduler

    job = scheduler.build_scheduler(app).get_job("recompute_tiers")
    assert isinstance(job.trigger, CronTrigger) and str(job.trigger.timezone) == "Europe/Madrid"
    assert "hour='2'" in str(job.trigger) and "minute='30'" in str(job.trigger)
    assert job.coalesce is True and job.max_instances == 1
    with app.app_context():
        service.save_rule(None, {"mode": "thresholds", "premium": "1000", "standard": "0", "period_days": "3660",
                                 "active": True}, NOW)
        db.session.commit()
    scheduler.recompute_tiers_job(app)
    with app.app_context():
        assert db.session.scalar(select(Customer.tier).where(Customer.id == data["C"])) == "basic"
        assert db.session.scalar(select(TierChange.user_id).where(TierChange.customer_id == data["C"])) is None

    def broken(*args, **kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr("crm.insights.profitability.recompute_tiers", broken)
    scheduler.recompute_tiers_job(app)  # logs; the next night retries
    assert "tier recomputation failed" in caplog.text
