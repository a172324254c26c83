"""Purchases on the customer page: the lazily loaded section and the form to record one."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, func, select

from crm.customers.models import Customer, Purchase
from crm.extensions import db

HTMX = {"HX-Request": "true"}


def text(response) -> str:
    return response.get_data(as_text=True)


def count() -> int:
    return db.session.scalar(select(func.count()).select_from(Purchase))


def add(app, agent_id: int, customer_id: int, amount="10.00", day: date | None = None, currency=None,
        description="") -> int:
    from crm.auth.models import User
    from crm.customers.purchases import record_purchase

    now = datetime.now(timezone.utc)
    with app.app_context():
        purchase = record_purchase(db.session.get(User, agent_id), {
            "customer_id": customer_id, "amount": amount, "purchased_on": (day or now.date()).isoformat(),
            "currency": currency, "description": description}, now)
        db.session.commit()
        return purchase.id


def statements_during(app, call) -> list[str]:
    seen: list[str] = []

    def listener(_conn, _cursor, statement, *_args):
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", listener)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return seen


class TestSection:
    def test_the_customer_page_only_points_at_the_section(self, app, login, agent, customer):
        add(app, agent.id, customer, description="Bicicleta urbana")
        b = login(agent)
        page = text(b.get(f"/customers/{customer}"))
        assert f'hx-get="/customers/{customer}/purchases" hx-trigger="intersect once"' in page
        assert f'href="/customers/{customer}/purchases"' in page  # works without JavaScript too
        assert "Bicicleta urbana" not in page and "Record purchase" not in page

    def test_the_customer_page_does_not_read_purchases(self, app, login, agent, customer):
        add(app, agent.id, customer)  # the customer has activity either way (the page shows more then)
        b = login(agent)
        b.get(f"/customers/{customer}")  # warm-up: caches, the session's user

        def page():
            assert b.get(f"/customers/{customer}").status_code == 200

        before = statements_during(app, page)
        for n in range(5):
            add(app, agent.id, customer, amount=f"{n + 1}.00")
        after = statements_during(app, page)
        assert len(after) == len(before)
        assert not any("purchases" in statement.lower() for statement in after)

    def test_revenue_and_the_latest_ten_newest_first(self, app, login, agent, customer):
        today = datetime.now(timezone.utc).date()
        ids = [add(app, agent.id, customer, amount="10.25", day=today - timedelta(days=30 - n),
                   description=f"Compra {n}") for n in range(12)]
        usd = add(app, agent.id, customer, amount="300", day=today - timedelta(days=40), currency="USD",
                  description="Bicicleta de importación")
        fragment = login(agent).get(f"/customers/{customer}/purchases", headers=HTMX)
        html = text(fragment)
        assert fragment.status_code == 200 and "<html" not in html
        assert "€123.00" in html and "$300.00" in html  # 12 × 10.25 in euros; dollars apart
        shown = sorted((html.index(f'id="purchase-{pid}"'), pid) for pid in ids + [usd]
                       if f'id="purchase-{pid}"' in html)
        assert [pid for _, pid in shown] == ids[2:][::-1]  # the ten newest, newest first
        assert "The latest 10 of 13 purchases." in html and "€10.25" in html
        assert f'action="/customers/{customer}/purchases"' in html and 'name="purchase-csrf_token"' in html
        local_today = datetime.now(ZoneInfo(app.config["BABEL_DEFAULT_TIMEZONE"])).date()
        assert 'value="EUR"' in html and f'type="date" value="{local_today.isoformat()}"' in html

    def test_other_currencies_use_their_own_symbol(self, app, login, agent, customer):
        add(app, agent.id, customer, amount="45.5", currency="GBP", description="Casco")
        html = text(login(agent).get(f"/customers/{customer}/purchases", headers=HTMX))
        assert "£45.50" in html and "€0.00" not in html

    def test_empty(self, app, login, agent, customer):
        html = text(login(agent).get(f"/customers/{customer}/purchases", headers=HTMX))
        assert "No purchases recorded for this customer." in html and "€0.00" in html

    def test_in_spanish(self, app, login, make_user, customer):
        spanish = make_user("agent", locale="es")
        add(app, spanish.id, customer, amount="1234.5", description="Bicicleta eléctrica")
        html = text(login(spanish).get(f"/customers/{customer}/purchases", headers=HTMX))
        assert "1234,50\xa0€" in html or "1.234,50\xa0€" in html

    def test_descriptions_are_escaped(self, app, login, agent, customer):
        add(app, agent.id, customer, description='<script>alert("x")</script>')
        html = text(login(agent).get(f"/customers/{customer}/purchases", headers=HTMX))
        assert "<script>alert" not in html and "&lt;script&gt;alert" in html

    def test_opened_directly_it_is_a_page(self, app, login, agent, customer):
        add(app, agent.id, customer, description="Revisión completa")
        html = text(login(agent).get(f"/customers/{customer}/purchases"))
        assert "<html" in html and "Log out" in html and "Revisión completa" in html

    def test_the_section_costs_the_same_few_queries_however_many_purchases(self, app, login, agent, customer):
        b = login(agent)

        def section():
            assert b.get(f"/customers/{customer}/purchases", headers=HTMX).status_code == 200

        add(app, agent.id, customer)
        few = len(statements_during(app, section))
        for n in range(15):
            add(app, agent.id, customer, amount=f"{n + 1}.50", currency="USD" if n % 3 else None)
        assert len(statements_during(app, section)) == few <= 6

    def test_anonymous_and_unknown_customers(self, client, login, agent, customer):
        response = client.get(f"/customers/{customer}/purchases")
        assert response.status_code == 302 and "/login" in response.headers["Location"]
        assert login(agent).get("/customers/987654/purchases").status_code == 404
        assert login(agent).get("/customers/0/purchases").status_code == 404


class TestRecord:
    def post(self, b, customer, **data):
        data = {f"purchase-{k}": v for k, v in data.items()}
        return b.post(f"/customers/{customer}/purchases", data, csrf_from_url=f"/customers/{customer}/purchases")

    def test_record_a_purchase(self, app, login, agent, customer):
        b = login(agent)
        done = self.post(b, customer, amount="12,50", currency="EUR", purchased_on="2026-01-15",
                         description="Cámara y cubierta")
        assert done.status_code == 302 and done.headers["Location"] == f"/customers/{customer}"
        assert "Purchase of €12.50 recorded." in text(b.get(done.headers["Location"]))
        with app.app_context():
            purchase = db.session.scalar(select(Purchase))
            assert (purchase.customer_id, purchase.amount, purchase.currency, purchase.purchased_on,
                    purchase.description, purchase.created_by_id) == (
                customer, Decimal("12.50"), "EUR", date(2026, 1, 15), "Cámara y cubierta", agent.id)
            assert db.session.get(Customer, customer).last_activity_at == datetime(2026, 1, 15, tzinfo=timezone.utc)
        html = text(b.get(f"/customers/{customer}/purchases", headers=HTMX))
        assert "Cámara y cubierta" in html and "€12.50" in html

    def test_currency_left_empty_is_the_business_currency(self, app, login, agent, customer):
        self.post(login(agent), customer, amount="9", currency="", purchased_on="2026-01-15")
        with app.app_context():
            assert db.session.scalar(select(Purchase.currency)) == app.config["CRM_CURRENCY"]

    @pytest.mark.parametrize("data, fragment", [
        ({"amount": ""}, "Amount: is required"),
        ({"amount": "-1"}, "Amount: must be more than 0"),
        ({"amount": "0"}, "Amount: must be more than 0"),
        ({"amount": "12,505"}, "Amount: must have at most two decimals"),
        ({"amount": "1e9"}, "Amount: must be a number"),
        ({"amount": "1000000,01"}, "Amount: must be more than 0"),
        ({"amount": "doce"}, "Amount: must be a number"),
        ({"amount": "12\x00"}, "Amount: contains characters that are not allowed"),
        ({"currency": "EURO"}, "Currency: must be a currency code"),
        ({"currency": "<b>"}, "Currency: must be a currency code"),
        ({"purchased_on": ""}, "Date: is required"),
        ({"purchased_on": "15/01/2026"}, "Date: must be a date (YYYY-MM-DD)"),
        ({"purchased_on": "2026-02-30"}, "Date: must be a date (YYYY-MM-DD)"),
        ({"purchased_on": "2999-01-01"}, "Date: cannot be in the future or before 2000"),
        ({"purchased_on": "1999-12-31"}, "Date: cannot be in the future or before 2000"),
        ({"description": "x" * 501}, "What was bought: must be at most 500 characters"),
        ({"description": "Revisión\x07"}, "What was bought: contains characters that are not allowed"),
    ])
    def test_bad_input_is_a_visible_error_and_writes_nothing(self, app, login, agent, customer, data, fragment):
        b = login(agent)
        fields = {"amount": "10", "currency": "EUR", "purchased_on": "2026-01-15", "description": "", **data}
        done = self.post(b, customer, **fields)
        assert done.status_code == 302 and done.headers["Location"] == f"/customers/{customer}"
        page = text(b.get(done.headers["Location"]))
        assert "flash-error" in page and fragment in page
        with app.app_context():
            assert count() == 0
            assert db.session.get(Customer, customer).last_activity_at is None

    def test_tomorrow_is_the_latest_date(self, app, login, agent, customer):
        b = login(agent)
        later = (datetime.now(timezone.utc).date() + timedelta(days=2)).isoformat()
        page = text(b.get(self.post(b, customer, amount="5", purchased_on=later).headers["Location"]))
        assert "Date: cannot be in the future" in page
        with app.app_context():
            assert count() == 0

    def test_recording_needs_a_login_and_csrf(self, app, client, login, agent, customer):
        data = {"purchase-amount": "10", "purchase-purchased_on": "2026-01-15"}
        refused = client.post(f"/customers/{customer}/purchases", data=data)
        assert refused.status_code in (302, 400)
        b = login(agent)
        assert b.client.post(f"/customers/{customer}/purchases", data=data).status_code == 400
        assert self.post(b, 987654, amount="10", purchased_on="2026-01-15").status_code == 404
        with app.app_context():
            assert count() == 0

    def test_anonymous_is_sent_to_login(self, app, browser, customer):
        response = browser.post(f"/customers/{customer}/purchases", {"purchase-amount": "10",
                                                                     "purchase-purchased_on": "2026-01-15"},
                                csrf_from_url="/login")
        assert response.status_code == 302 and "/login" in response.headers["Location"]
        with app.app_context():
            assert count() == 0
