"""Purchase services: validation, activity, listing and revenue; and the demo's purchases."""
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from crm.audit import AuditEvent
from crm.auth.models import User
from crm.customers import purchases
from crm.customers.models import Customer, Purchase, StageChange
from crm.customers.services import create_customer
from crm.demo.generator import BIKES, SERVICES_AND_PARTS
from crm.domain import ValidationFailed
from crm.extensions import db


@pytest.fixture
def actor(ctx, agent):
    return db.session.get(User, agent.id)


def buy(actor, now, customer_id, **data):
    data.setdefault("amount", "49.90")
    data.setdefault("purchased_on", now.date().isoformat())
    return purchases.record_purchase(actor, {"customer_id": customer_id, **data}, now)


def count(model=Purchase) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


class TestRecord:
    def test_a_purchase_is_written_with_defaults_and_audited(self, actor, now, customer, app):
        purchase = buy(actor, now, customer, amount="12,50", description="  Cámara y cubierta ")
        assert (purchase.amount, purchase.currency, purchase.purchased_on, purchase.description) == (
            Decimal("12.50"), app.config["CRM_CURRENCY"], now.date(), "Cámara y cubierta")
        assert purchase.created_by_id == actor.id and purchase.created_at == now
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "purchase.recorded"))
        assert (event.entity_id, event.user_id) == (purchase.id, actor.id)
        assert event.details == {"customer_id": customer, "amount": "12.50", "currency": "EUR",
                                 "purchased_on": now.date().isoformat()}

    @pytest.mark.parametrize("value, expected", [
        ("12", "12.00"), ("12.5", "12.50"), (" 1000 ", "1000.00"), ("0,01", "0.01"), ("+3,5", "3.50"),
        (7, "7.00"), (12.1, "12.10"), (Decimal("99.990"), "99.99"), ("1000000", "1000000.00"),
    ])
    def test_amounts_people_and_programs_send(self, actor, now, customer, value, expected):
        assert buy(actor, now, customer, amount=value).amount == Decimal(expected)

    def test_currency_and_date_objects(self, actor, now, customer):
        purchase = buy(actor, now, customer, currency=" usd ", purchased_on=date(2024, 2, 29))
        assert (purchase.currency, purchase.purchased_on) == ("USD", date(2024, 2, 29))

    @pytest.mark.parametrize("field, value", [
        ("amount", None), ("amount", ""), ("amount", "-1"), ("amount", "0"), ("amount", "0,00"),
        ("amount", "12,505"), ("amount", "0.001"), ("amount", "1e9"), ("amount", "1e2"), ("amount", 1e9),
        ("amount", "1000000.01"), ("amount", "1.234,56"), ("amount", "12 €"), ("amount", "NaN"),
        ("amount", "Infinity"), ("amount", float("nan")), ("amount", float("inf")), ("amount", True),
        ("amount", [12]), ("amount", {"value": 12}), ("amount", "1" * 5000), ("amount", 10**400),
        ("amount", "12\x00"), ("amount", "<script>alert(1)</script>"),
        ("currency", "EURO"), ("currency", "eu"), ("currency", "ZZZ"), ("currency", "XXX"), ("currency", 978),
        ("currency", "E\x00R"),
        ("purchased_on", None), ("purchased_on", ""), ("purchased_on", "16/11/2026"), ("purchased_on", "2026-02-30"),
        ("purchased_on", "2026-11-18"), ("purchased_on", "1999-12-31"), ("purchased_on", "9999-01-01"),
        ("purchased_on", 20261116), ("purchased_on", datetime(2026, 11, 16, tzinfo=timezone.utc)),
        ("purchased_on", "2026-11-16'; DROP TABLE purchases; --"),
        ("description", "x" * 501), ("description", "Revisión\x00"), ("description", "dos\nlíneas"),
        ("description", 12),
        ("customer_id", None), ("customer_id", 987654), ("customer_id", "1"), ("customer_id", True),
        ("customer_id", 10**30), ("customer_id", -1),
    ])
    def test_each_bad_field_is_refused_and_nothing_is_written(self, actor, now, customer, field, value):
        data = {"customer_id": customer, "amount": "10", "purchased_on": now.date().isoformat(), field: value}
        with pytest.raises(ValidationFailed) as err:
            purchases.record_purchase(actor, data, now)
        assert set(err.value.fields) == {field}
        db.session.rollback()
        assert count() == 0 and count(AuditEvent) == 1  # the customer's creation only
        assert db.session.get(Customer, customer).last_activity_at is None

    def test_every_problem_is_reported_at_once(self, actor, now):
        with pytest.raises(ValidationFailed) as err:
            purchases.record_purchase(actor, {"amount": "-3", "currency": "??", "purchased_on": "mañana",
                                              "description": "x" * 600}, now)
        assert set(err.value.fields) == {"customer_id", "amount", "currency", "purchased_on", "description"}

    def test_tomorrow_is_allowed_for_other_time_zones(self, actor, now, customer):
        assert buy(actor, now, customer, purchased_on="2026-11-17").purchased_on == date(2026, 11, 17)
        assert buy(actor, now, customer, purchased_on="2000-01-01").purchased_on == date(2000, 1, 1)


class TestActivity:
    def test_a_purchase_moves_last_activity_to_the_start_of_its_day(self, actor, now, customer):
        buy(actor, now, customer, purchased_on="2026-10-01")
        assert db.session.get(Customer, customer).last_activity_at == datetime(2026, 10, 1, tzinfo=timezone.utc)

    def test_only_forward(self, actor, now, customer):
        buy(actor, now, customer, purchased_on="2026-10-01")
        buy(actor, now, customer, purchased_on="2025-03-04")  # an old receipt typed in late
        assert db.session.get(Customer, customer).last_activity_at == datetime(2026, 10, 1, tzinfo=timezone.utc)
        buy(actor, now, customer, purchased_on="2026-11-02")
        assert db.session.get(Customer, customer).last_activity_at == datetime(2026, 11, 2, tzinfo=timezone.utc)

    def test_a_later_contact_is_kept(self, actor, now, customer):
        contact = now - timedelta(hours=3)
        db.session.get(Customer, customer).last_activity_at = contact
        db.session.flush()
        buy(actor, now, customer, purchased_on=now.date().isoformat())  # midnight today is earlier
        assert db.session.get(Customer, customer).last_activity_at == contact
        db.session.expire_all()
        assert db.session.get(Customer, customer).last_activity_at == contact

    def test_never_past_now(self, actor, now, customer):
        buy(actor, now, customer, purchased_on=(now.date() + timedelta(days=1)).isoformat())
        assert db.session.get(Customer, customer).last_activity_at == now

    def test_the_stored_value_matches_what_the_session_sees(self, actor, now, customer):
        buy(actor, now, customer, purchased_on="2026-09-09")
        db.session.expire_all()
        assert db.session.get(Customer, customer).last_activity_at == datetime(2026, 9, 9, tzinfo=timezone.utc)


class TestListingAndRevenue:
    @pytest.fixture
    def two_customers(self, actor, now, customer):
        other = create_customer(actor, {"name": "Luis Ortega"}, now).id
        rows = [(customer, "10.10", "2026-01-10", None), (customer, "20.20", "2026-03-01", None),
                (customer, "5.05", "2026-03-01", None), (customer, "100", "2025-12-31", None),
                (customer, "300", "2026-02-01", "USD"), (other, "999.99", "2026-02-15", None)]
        made = [buy(actor, now, cid, amount=amount, purchased_on=day, currency=cur) for cid, amount, day, cur in rows]
        return customer, other, made

    def test_newest_first_and_paginated(self, two_customers):
        customer, other, made = two_customers
        page = purchases.list_purchases(customer_id=customer, per_page=3)
        assert (page.total, page.pages) == (5, 2)
        # same day: the later-recorded first
        assert [p.id for p in page.items] == [made[2].id, made[1].id, made[4].id]
        second = purchases.list_purchases(customer_id=customer, page=2, per_page=3)
        assert [p.id for p in second.items] == [made[0].id, made[3].id]
        assert purchases.list_purchases().total == 6

    def test_periods_are_inclusive_days(self, two_customers):
        customer, other, made = two_customers
        page = purchases.list_purchases(since=date(2026, 2, 1), until=date(2026, 3, 1))
        assert {p.id for p in page.items} == {made[1].id, made[2].id, made[4].id, made[5].id}
        assert purchases.list_purchases(customer_id=other, until=date(2026, 2, 14)).total == 0

    def test_impossible_customer_ids_list_nothing(self, two_customers):
        for bad in (0, -4, 10**30):
            page = purchases.list_purchases(customer_id=bad)
            assert (page.items, page.total) == ([], 0)

    def test_revenue_sums_one_currency_exactly(self, two_customers):
        customer, other, made = two_customers
        cust = db.session.get(Customer, customer)
        assert purchases.customer_revenue(cust) == Decimal("135.35")
        assert purchases.customer_revenue(cust, since=date(2026, 1, 1)) == Decimal("35.35")
        assert purchases.customer_revenue(cust, since=date(2026, 1, 11), until=date(2026, 3, 1)) == Decimal("25.25")
        assert purchases.customer_revenue(cust, currency="USD") == Decimal("300.00")
        assert purchases.customer_revenue(db.session.get(Customer, other)) == Decimal("999.99")
        assert purchases.revenue_by_currency(cust) == {"EUR": Decimal("135.35"), "USD": Decimal("300.00")}
        assert list(purchases.revenue_by_currency(cust)) == ["EUR", "USD"]

    def test_many_cents_add_up_without_float_drift(self, actor, now, customer):
        for _ in range(30):
            buy(actor, now, customer, amount="0.10")
        assert purchases.customer_revenue(db.session.get(Customer, customer)) == Decimal("3.00")

    def test_no_purchases_no_revenue(self, actor, now, customer):
        cust = db.session.get(Customer, customer)
        assert purchases.customer_revenue(cust) == Decimal("0.00")
        assert purchases.revenue_by_currency(cust) == {}

    def test_revenue_is_one_query(self, app, two_customers):
        from sqlalchemy import event

        cust = db.session.get(Customer, two_customers[0])
        db.session.flush()
        seen = []
        engine = db.engine
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            purchases.customer_revenue(cust)
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        assert len(seen) == 1 and "sum(" in seen[0].lower()


class TestDemo:
    def test_the_demo_seed_creates_purchases_by_stage(self, ctx):
        from crm.demo.seed import seed_demo

        now = datetime(2026, 11, 16, 10, 0, tzinfo=timezone.utc)
        summary = seed_demo(customers=70, moments=200, seed=7, now=now)
        db.session.flush()
        assert summary["purchases"] == count() > 0
        rows = db.session.execute(
            select(Customer.stage, func.count(Purchase.id), func.min(Purchase.purchased_on),
                   func.max(Purchase.purchased_on))
            .join(Purchase, Purchase.customer_id == Customer.id, isouter=True).group_by(Customer.id)).all()
        by_stage: dict[str, list] = {}
        for stage, n, first, last in rows:
            by_stage.setdefault(stage, []).append((n, first, last))
        assert all(n == 0 for n, _, _ in by_stage["prospect"])
        assert all(n == 1 for n, _, _ in by_stage["new"])
        for stage in ("active", "loyal", "promoter"):
            assert all(n >= 2 for n, _, _ in by_stage[stage]), stage
            assert all(first >= now.date() - timedelta(days=731) for _, first, _ in by_stage[stage])
            assert max(last for _, _, last in by_stage[stage]) >= now.date() - timedelta(days=60)
        assert all(n >= 1 for stage in ("at_risk", "churned") for n, _, _ in by_stage[stage])
        # Customers drifting away stopped buying before they were marked at risk.
        drifted = db.session.execute(
            select(StageChange.customer_id, StageChange.at).where(StageChange.to_stage == "at_risk")).all()
        assert len(drifted) == len(by_stage["at_risk"]) + len(by_stage["churned"])
        for customer_id, at in drifted:
            last = db.session.scalar(select(func.max(Purchase.purchased_on)).where(Purchase.customer_id == customer_id))
            assert last <= at.date()
        # Every purchase falls between the customer's arrival and today.
        assert db.session.scalar(select(func.count()).select_from(Purchase).join(Customer).where(
            (Purchase.purchased_on > now.date()) | (Purchase.purchased_on < func.date(Customer.created_at)))) == 0
        amounts = list(db.session.scalars(select(Purchase.amount)))
        assert all(Decimal("8") <= a <= Decimal("5000") and a == a.quantize(Decimal("0.01")) for a in amounts)
        assert len(set(amounts)) > len(amounts) // 3
        assert set(db.session.scalars(select(Purchase.currency))) == {"EUR"}
        descriptions = set(db.session.scalars(select(Purchase.description)))
        known = {item[0] for item in BIKES + SERVICES_AND_PARTS}
        assert descriptions <= known and "Revisión completa" in descriptions and len(descriptions) > 8
        # A customer's first purchase is a bike, on the day they became a customer.
        firsts = db.session.execute(select(Purchase.customer_id, Purchase.description, Purchase.purchased_on)
                                    .where(Purchase.id.in_(select(func.min(Purchase.id)).group_by(
                                        Purchase.customer_id)))).all()
        became_new = dict(db.session.execute(
            select(StageChange.customer_id, StageChange.at).where(StageChange.to_stage == "new")).all())
        assert all(description.startswith("Bicicleta") and day == became_new[cid].date()
                   for cid, description, day in firsts)
        # The ids the seed chose leave room for the next purchase (PostgreSQL's sequence caught up).
        staff = db.session.scalar(select(User).where(User.email == "agent@demo.local"))
        later = purchases.record_purchase(staff, {"customer_id": firsts[0][0], "amount": "9,90",
                                                  "purchased_on": now.date()}, now)
        assert later.id > summary["purchases"]

    def test_demo_last_activity_is_the_latest_contact_or_purchase(self, ctx):
        from crm.demo.seed import seed_demo
        from crm.moments.models import Moment

        now = datetime(2026, 11, 16, 10, 0, tzinfo=timezone.utc)
        seed_demo(customers=50, moments=60, seed=3, now=now)
        db.session.flush()
        latest_moment = dict(db.session.execute(
            select(Moment.customer_id, func.max(Moment.occurred_at)).group_by(Moment.customer_id)).all())
        latest_purchase = dict(db.session.execute(
            select(Purchase.customer_id, func.max(Purchase.purchased_on)).group_by(Purchase.customer_id)).all())
        bought_not_contacted = 0
        for customer in db.session.scalars(select(Customer)):
            candidates = []
            if customer.id in latest_moment:
                moment_at = latest_moment[customer.id]
                candidates.append(moment_at if moment_at.tzinfo else moment_at.replace(tzinfo=timezone.utc))
            if customer.id in latest_purchase:
                day = latest_purchase[customer.id]
                candidates.append(datetime(day.year, day.month, day.day, tzinfo=timezone.utc))
                bought_not_contacted += customer.id not in latest_moment
            assert customer.last_activity_at == (max(candidates) if candidates else None), customer.id
        assert bought_not_contacted > 0  # few contacts: purchases alone set some customers' activity
