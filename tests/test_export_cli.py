"""`flask --app wsgi crm export …`: the same files as the pages, written streamed to a file or stdout."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from crm.audit import AuditEvent
from crm.exports.csvstream import EXCEL
from crm.extensions import db
from tests.services.test_exports import HOSTILE_NAME, build_data, rows_of


@pytest.fixture
def data(app, agent, supervisor, admin, customer, moment_type, now):
    return build_data(app, agent, supervisor, admin, customer, moment_type, now)


def test_writes_the_file_the_page_gives(runner, login, supervisor, data, tmp_path, app):
    out = tmp_path / "customers.csv"
    result = runner.invoke(args=["crm", "export", "customers", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "exported 2 customers" in result.output
    assert out.read_bytes() == login(supervisor).get("/exports/customers.csv").get_data()
    assert [r["name"] for r in rows_of(out.read_bytes())] == ["María García Núñez", "'" + HOSTILE_NAME]
    assert not list(tmp_path.glob(".*partial"))
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "export.started",
                                                           AuditEvent.details["via"].as_string() == "cli"))
        assert event is not None and event.user_id is None


def test_excel_and_filters(runner, data, tmp_path, agent):
    out = tmp_path / "m.csv"
    result = runner.invoke(args=["crm", "export", "moments", "--out", str(out), "--excel", "--channel", "email",
                                 "--from", "2026-11-01", "--to", "2026-11-30"])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"\xef\xbb\xbfcustomer_email;")
    assert [r["customer_email"] for r in rows_of(out.read_bytes(), EXCEL)] == ["hostil@example.es"]
    result = runner.invoke(args=["crm", "export", "commitments", "--out", str(out), "--status", "open",
                                 "--status", "paused", "--owner", agent.email])
    assert result.exit_code == 0, result.output
    assert len(rows_of(out.read_bytes())) == 3


def test_stdout(runner, data):
    result = runner.invoke(args=["crm", "export", "purchases", "--out", "-"])
    assert result.exit_code == 0
    assert result.stdout_bytes.startswith(b"customer_email,customer_phone,purchased_on,amount,currency,description")
    assert b"1234.50,EUR" in result.stdout_bytes


def test_same_bytes_twice(runner, data, tmp_path):
    for entity in ("moments", "compensations"):
        a, b = tmp_path / "a.csv", tmp_path / "b.csv"
        for path in (a, b):
            assert runner.invoke(args=["crm", "export", entity, "--out", str(path)]).exit_code == 0
        assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize("args,message", [
    (["customers", "--stage", "nope"], "stage"),
    (["moments", "--from", "2026-13-01"], "from"),
    (["customers", "--channel", "email"], "--channel does not apply to customers"),
    (["purchases", "--customer", "abc"], "customer"),
    (["users"], "Invalid value"),
])
def test_bad_input_is_refused_and_writes_nothing(runner, data, tmp_path, args, message, app):
    out = tmp_path / "x.csv"
    result = runner.invoke(args=["crm", "export", *args, "--out", str(out)])
    assert result.exit_code != 0 and message in result.output
    assert not out.exists()
    with app.app_context():
        assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "export.started")) is None


@pytest.mark.parametrize("excel", [False, True])
def test_exports_import_back(runner, app, data, tmp_path, excel):
    """The contract with crm/imports: what is exported loads back into an empty database as it was."""
    from crm.customers.models import Customer

    form = ["--excel"] if excel else []
    first = {}
    for entity in ("customers", "purchases", "moments"):
        path = tmp_path / f"{entity}.csv"
        assert runner.invoke(args=["crm", "export", entity, "--out", str(path), *form]).exit_code == 0
        first[entity] = path.read_bytes()
    with app.app_context():
        db.session.execute(sa.delete(Customer))  # cascades to their contacts, commitments and purchases
        db.session.commit()
    for entity in ("customers", "purchases", "moments"):
        result = runner.invoke(args=["crm", "import", entity, str(tmp_path / f"{entity}.csv")])
        assert result.exit_code == 0 and " 0 rechazadas" in result.output, result.output
    for entity in ("customers", "purchases", "moments"):
        again = tmp_path / f"{entity}-again.csv"
        assert runner.invoke(args=["crm", "export", entity, "--out", str(again), *form]).exit_code == 0
        assert again.read_bytes() == first[entity], entity
