"""Round trip (issue 6): export → import into an empty database → export gives the same file.

Customers, purchases and contacts (moments), through the real export and import services,
in both CSV forms (plain, and Spanish Excel's: BOM, `;`, decimal commas), with the data
people really have: accents and ñ, `;` and quotes inside cells, newlines in notes, decimal
amounts, phones starting with +, and text a spreadsheet would run as a formula (also with
an apostrophe of its own before it).
"""
from __future__ import annotations

import io
from datetime import date, timedelta

import pytest

from crm import create_app
from crm.auth.models import User
from crm.customers.purchases import record_purchase
from crm.customers.services import create_customer
from crm.exports import services as exports
from crm.exports.csvstream import EXCEL, PLAIN
from crm.extensions import db
from crm.imports import services as imports
from crm.moments.catalog import save_moment_type
from crm.moments.services import log_moment
from tests.conftest import NOW, PG_SERVER, _fresh_postgres

ENTITIES = ("customers", "purchases", "moments")  # in the order they must be imported
FORMULA = "=cmd|' /C calc'!A0"
STAFF = (("admin", "admin@example.es", "Lucía Rivera"), ("supervisor", "supervisor@example.es", "Javier Martín"),
         ("agent", "agent@example.es", "Carmen López"))
MOMENT_TYPES = (("complaint", "Reclamación", "phone", "18.00"), ("visit", "Visita al taller", "in_person", "7.25"))


def staff_and_catalog() -> dict[str, User]:
    """The same staff (by email) and moment types (by code) in every database: what files refer to."""
    people = {}
    for role, email, name in STAFF:
        user = User(email=email, name=name, role=role, created_at=NOW, password_hash="x")
        db.session.add(user)
        people[role] = user
    db.session.flush()
    for code, name, channel, cost in MOMENT_TYPES:
        save_moment_type(people["admin"], None, {
            "code": code, "name": name, "phase": "interact", "channel": channel, "cost": cost,
            "objective": "Resolver", "service_levels": []}, NOW)
    db.session.commit()
    return people


def realistic_data(people: dict[str, User]) -> None:
    agent, supervisor = people["agent"], people["supervisor"]
    customers = [
        {"name": "María José Núñez Peña", "email": "mj.nunez@example.es", "phone": "+34 612 345 678",
         "company": "Talleres Núñez; Hijos", "segment": "Particular", "stage": "active", "loyalty": "regular",
         "tier": "premium", "marketing_consent": True, "renewal_date": "2027-03-31"},
        {"name": FORMULA, "email": "hostil@example.es", "phone": "-600 000 001", "company": "@empresa",
         "segment": "Empresa (flota)", "stage": "prospect"},
        {"name": 'Íñigo "el Txiki" Ibáñez', "phone": "600 111 222", "company": "Bicis, Cañas & Cía",
         "stage": "loyal", "owner_id": supervisor.id, "language": "en"},
        {"name": "Ángela Muñoz", "email": "angela@example.es", "segment": "Club ciclista", "stage": "at_risk",
         "renewal_date": "2026-12-01", "company": "'=A1, con su apóstrofo"},  # one the export must protect too
        {"name": "Sin contacto Ñandú"},
    ]
    made = [create_customer(agent, data, NOW - timedelta(days=30 - i)) for i, data in enumerate(customers)]
    maria, hostile, inigo, angela, _nobody = made
    for customer, amount, day, description in (
            (maria, "1234.50", "2026-11-10", "Revisión completa; cadena \"premium\""),
            (maria, "0.99", "2026-11-11", "Parche"),
            (hostile, "7", "2026-11-12", "+ extra"),
            (inigo, "89.95", "2026-10-01", "Casco, talla M"),
            (angela, "15.10", "2026-11-14", "=SUM(A1:A3)")):
        record_purchase(agent, {"customer_id": customer.id, "amount": amount, "currency": "EUR",
                                "purchased_on": day, "description": description}, NOW)
    for i, (customer, code, notes, emotion) in enumerate((
            (maria, "complaint", "Llamó muy enfadada; dijo \"nunca más\"\nsegunda línea: ñ, á, €", -2),
            (hostile, "complaint", FORMULA, None),
            (inigo, "visit", "-2 estrellas\r\ny una tercera línea", 1),
            (angela, "visit", "@mención; con punto y coma", 2),
            (maria, "visit", "", 0))):
        log_moment(agent, {"customer_id": customer.id, "moment_type": code, "notes": notes, "emotion": emotion,
                           "occurred_at": NOW - timedelta(days=5 - i, minutes=7 * i)}, NOW)
    db.session.commit()


def export_all(form) -> dict[str, bytes]:
    out = {}
    for entity in ENTITIES:
        job = exports.prepare_export(None, entity, {}, NOW, zone="Europe/Madrid", form=form)
        out[entity] = b"".join(job.chunks(form, batch=2))  # several batches: the keyset paging too
    db.session.rollback()
    return out


@pytest.fixture
def empty_app():
    """A second, empty database (on the engine the suite runs on) with only staff and catalog."""
    if PG_SERVER:
        url, drop = _fresh_postgres()
    else:
        import tempfile

        folder = tempfile.TemporaryDirectory()
        url, drop = f"sqlite:///{folder.name}/empty.db", folder.cleanup
    other = create_app({"CRM_ENV": "test", "SECRET_KEY": "test-secret", "SQLALCHEMY_DATABASE_URI": url,
                        "SERVER_NAME": None})
    with other.app_context():
        db.create_all()
    yield other
    with other.app_context():
        db.session.remove()
        db.engine.dispose()
    drop()


@pytest.mark.parametrize("form", [PLAIN, EXCEL], ids=["plain", "excel"])
def test_export_import_export_gives_the_same_files(app, empty_app, form):
    with app.test_request_context():
        realistic_data(staff_and_catalog())
        first = export_all(form)
    assert FORMULA.encode() in first["customers"] and b"\n" in first["moments"]
    assert b"2027-03-31" in first["customers"]  # the renewal date travels too

    with empty_app.test_request_context():
        admin = staff_and_catalog()["admin"]
        for entity in ENTITIES:
            summary = imports.run_import(entity, io.BytesIO(first[entity]), actor=admin, now=NOW,
                                         commit=db.session.commit, batch_size=100)
            db.session.commit()
            assert summary.rejected == 0, [e.reason() for e in summary.errors]
            assert summary.created == summary.rows == first[entity].count(b"\n") - _newlines_in_cells(
                first[entity], form), entity
        second = export_all(form)
        from crm.customers.models import Customer

        hostile = db.session.query(Customer).filter_by(email="hostil@example.es").one()
        assert hostile.name == FORMULA  # stored as the same text, protected only in the file
        angela = db.session.query(Customer).filter_by(email="angela@example.es").one()
        assert angela.renewal_date == date(2026, 12, 1)
        assert angela.company == "'=A1, con su apóstrofo"  # its own apostrophe kept, the file's taken away

    for entity in ENTITIES:
        assert second[entity] == first[entity], entity


def _newlines_in_cells(data: bytes, form) -> int:
    """Line ends inside quoted cells (notes on several lines) plus the header's own line."""
    import csv

    text = data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=form.delimiter))
    return sum(cell.count("\n") for row in rows for cell in row) + 1
