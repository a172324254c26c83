"""`crm erase-customer` and `crm export-customer`."""
from __future__ import annotations

import json

from sqlalchemy import select

from crm.audit import AuditEvent
from crm.customers.models import Customer
from crm.extensions import db


def test_erase_customer(app, runner, customer):
    result = runner.invoke(args=["crm", "erase-customer", str(customer), "--reason", "Ticket 12", "--yes"])
    assert result.exit_code == 0, result.output
    assert f"erased customer {customer}:" in result.output and "search_terms=" in result.output
    with app.app_context():
        row = db.session.get(Customer, customer)
        assert row.erased_at is not None and row.email is None
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "customer.erased"))
        assert event.user_id is None and event.details["reason"] == "Ticket 12"
    again = runner.invoke(args=["crm", "erase-customer", str(customer), "--reason", "x", "--yes"])
    assert again.exit_code == 1 and "ya se borró" in again.output


def test_erase_asks_first_and_refuses_bad_input(app, runner, customer):
    declined = runner.invoke(args=["crm", "erase-customer", str(customer), "--reason", "x"], input="n\n")
    assert declined.exit_code == 1
    assert runner.invoke(args=["crm", "erase-customer", str(customer), "--yes"]).exit_code == 2  # no reason
    blank = runner.invoke(args=["crm", "erase-customer", str(customer), "--reason", " ", "--yes"])
    assert blank.exit_code == 1 and "reason" in blank.output
    missing = runner.invoke(args=["crm", "erase-customer", "999999", "--reason", "x", "--yes"])
    assert missing.exit_code == 1 and "no customer" in missing.output
    with app.app_context():
        assert db.session.get(Customer, customer).erased_at is None


def test_export_customer(app, runner, customer):
    result = runner.invoke(args=["crm", "export-customer", str(customer)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["customer"]["name"] == "María García Núñez"
