"""Exports: the CSV writer (forms, typed cells, formula protection) and the streamed queries.

`build_data` is shared with the page, API and CLI tests of the exports.
"""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event, select

from crm.audit import AuditEvent
from crm.auth.models import User
from crm.compensations import services as compensations
from crm.customers.purchases import record_purchase
from crm.customers.services import create_customer
from crm.domain import Forbidden, NotFound, ValidationFailed
from crm.exports import services
from crm.exports.csvstream import (
    BOOL,
    DATE,
    EXCEL,
    FORMULA_STARTS,
    INSTANT,
    NUMBER,
    PLAIN,
    TEXT,
    Column,
    cell,
    encode_rows,
    protect,
    unprotect,
)
from crm.exports.filters import clean_filters
from crm.extensions import db
from crm.moments.services import log_moment
from crm.moments.sweep import sweep_commitments

ZONE = "Europe/Madrid"
HOSTILE_NAME = "=cmd|' /C calc'!A0"


def build_data(app, agent, supervisor, admin, customer, moment_type, now) -> dict:
    """Two customers (one with a hostile name), contacts, a purchase, a breached commitment
    and its proposed compensation; returns their ids."""
    with app.app_context():
        people = {u.role: db.session.get(User, u.id) for u in (agent, supervisor, admin)}
        other = create_customer(people["supervisor"], {
            "name": HOSTILE_NAME, "email": "hostil@example.es", "phone": "+34 600 000 001",
            "company": "Empresa; S.L.", "segment": "Empresa", "stage": "prospect", "marketing_consent": True,
            "owner_id": people["supervisor"].id}, now)
        compensations.save_policy(people["admin"], None, {
            "moment_type_id": moment_type, "kind": "discount", "value": "10", "cost": "6",
            "requires_approval": True}, now)
        first = log_moment(people["agent"], {"customer_id": customer, "moment_type": "complaint",
                                             "occurred_at": now, "emotion": -2,
                                             "notes": "-2 stars; said \"never again\"\nsecond line"}, now)
        second = log_moment(people["agent"], {"customer_id": other.id, "moment_type": "complaint",
                                              "channel": "email", "occurred_at": now + timedelta(days=3),
                                              "notes": "@mention"}, now + timedelta(days=3))
        purchase = record_purchase(people["agent"], {"customer_id": customer, "amount": "1234.50",
                                                     "currency": "EUR", "purchased_on": "2026-11-10",
                                                     "description": "+ extra"}, now)
        record_purchase(people["agent"], {"customer_id": other.id, "amount": "7", "currency": "USD",
                                          "purchased_on": "2026-11-14", "description": "plain"}, now)
        sweep_commitments(now + timedelta(hours=5))  # the first contact's first response breaks
        db.session.commit()
        return {"maria": customer, "other": other.id, "first": first.id, "second": second.id,
                "purchase": purchase.id}


def rows_of(data: bytes, form=PLAIN) -> list[dict]:
    text = data.decode("utf-8")
    if form.bom:
        assert text.startswith("\ufeff")
        text = text[1:]
    return list(csv.DictReader(io.StringIO(text), delimiter=form.delimiter))


def export_bytes(entity, args=None, form=PLAIN, actor=None, batch=None, now=None) -> bytes:
    job = services.prepare_export(actor, entity, args or {}, now or datetime.now(timezone.utc), zone=ZONE,
                                  form=form)
    return b"".join(job.chunks(form, batch=batch))


@pytest.fixture
def data(app, ctx, agent, supervisor, admin, customer, moment_type, now):
    return build_data(app, agent, supervisor, admin, customer, moment_type, now)


class TestWriter:
    def test_cells_by_kind(self):
        instant = datetime(2026, 11, 22, 11, 30, 5, 123456, tzinfo=timezone(timedelta(hours=1)))
        assert cell(instant, INSTANT, PLAIN) == "2026-11-22T10:30:05+00:00"
        assert cell(date(2026, 1, 2), DATE, PLAIN) == "2026-01-02"
        assert (cell(True, BOOL, PLAIN), cell(False, BOOL, EXCEL)) == ("true", "false")
        assert cell(Decimal("1234.50"), NUMBER, PLAIN) == "1234.50"
        assert cell(Decimal("1234.50"), NUMBER, EXCEL) == "1234,50"
        assert cell(Decimal("1E+3"), NUMBER, PLAIN) == "1000"  # never an exponent
        assert cell(-2, NUMBER, PLAIN) == "-2"  # numbers are never "protected"
        assert cell(None, INSTANT, PLAIN) == cell(None, TEXT, EXCEL) == ""
        with pytest.raises(TypeError):
            cell(instant.replace(tzinfo=None), INSTANT, PLAIN)

    @pytest.mark.parametrize("text", ["=1+1", "+34 600", "-2", "@SUM(A1)", "\tx", "\rx"])
    def test_formula_starts_get_one_apostrophe(self, text):
        assert protect(text) == "'" + text
        assert cell(text, "text", EXCEL) == "'" + text

    @pytest.mark.parametrize("text", ["María", "a=b", "'quoted", "", "1+1", "'", "''x"])
    def test_other_text_is_left_alone(self, text):
        assert protect(text) == text

    @pytest.mark.parametrize("text", ["'=x", "''+34", "'@a"])
    def test_apostrophes_of_its_own_before_a_formula_get_one_more(self, text):
        assert protect(text) == "'" + text

    @given(st.text(alphabet=st.sampled_from("'=+-@\t\rab "), max_size=8) | st.text(max_size=30))
    def test_the_importer_gets_back_exactly_the_text_protected(self, text):
        protected = protect(text)
        assert unprotect(protected) == text
        # What a spreadsheet would run never starts a protected cell.
        assert protected[:1] not in FORMULA_STARTS

    def test_forms_delimiters_bom_and_quoting(self):
        columns = [Column("name"), Column("amount", NUMBER)]
        batches = [[("Núñez; \"Pepe\"", Decimal("2.50"))], [("=x", None)]]
        plain = b"".join(encode_rows(columns, batches, PLAIN))
        excel = b"".join(encode_rows(columns, batches, EXCEL))
        assert plain == 'name,amount\r\n"Núñez; ""Pepe""",2.50\r\n\'=x,\r\n'.encode()
        assert excel == '\ufeffname;amount\r\n"Núñez; ""Pepe""";2,50\r\n\'=x;\r\n'.encode()

    def test_one_chunk_per_batch(self):
        chunks = list(encode_rows([Column("n", NUMBER)], ([(i,)] for i in range(3)), PLAIN))
        assert chunks == [b"n\r\n", b"0\r\n", b"1\r\n", b"2\r\n"]



class TestEntities:
    def test_customers_columns_values_and_protection(self, data, now):
        rows = rows_of(export_bytes("customers"))
        assert list(rows[0]) == ["name", "email", "phone", "company", "segment", "stage", "loyalty", "tier",
                                 "language", "marketing_consent", "owner_email", "created_at", "renewal_date"]
        maria, other = rows  # by id
        assert maria["name"] == "María García Núñez" and maria["email"] == "maria.garcia@example.es"
        assert maria["phone"] == "'+34 612 345 678"  # a leading + is a formula to a spreadsheet
        assert maria["owner_email"] == "agent@example.es" and maria["marketing_consent"] == "false"
        assert maria["created_at"] == "2026-11-16T10:00:00+00:00"
        assert other["name"] == "'" + HOSTILE_NAME and other["company"] == "Empresa; S.L."
        assert other["marketing_consent"] == "true" and other["owner_email"] == "supervisor@example.es"

    def test_moments(self, data, now):
        rows = rows_of(export_bytes("moments"))
        assert list(rows[0]) == ["customer_email", "customer_phone", "moment_type", "occurred_at", "channel",
                                 "staff_email", "emotion", "outcome", "cost", "notes"]
        first, second = rows
        assert (first["moment_type"], first["channel"], first["staff_email"]) == (
            "complaint", "phone", "agent@example.es")
        assert (first["emotion"], first["cost"], first["occurred_at"]) == ("-2", "18.00", "2026-11-16T10:00:00+00:00")
        assert first["notes"] == "'-2 stars; said \"never again\"\nsecond line"
        assert (second["emotion"], second["notes"], second["channel"]) == ("", "'@mention", "email")

    def test_purchases_plain_and_excel(self, data):
        rows = rows_of(export_bytes("purchases"))
        assert list(rows[0]) == ["customer_email", "customer_phone", "purchased_on", "amount", "currency",
                                 "description"]
        assert [(r["purchased_on"], r["amount"], r["currency"], r["description"]) for r in rows] == [
            ("2026-11-10", "1234.50", "EUR", "'+ extra"), ("2026-11-14", "7.00", "USD", "plain")]
        excel = export_bytes("purchases", form=EXCEL)
        assert excel.startswith(b"\xef\xbb\xbfcustomer_email;customer_phone;purchased_on;amount;")
        assert [r["amount"] for r in rows_of(excel, EXCEL)] == ["1234,50", "7,00"]

    def test_commitments_and_compensations(self, data):
        commitments = rows_of(export_bytes("commitments"))
        assert [(c["kind"], c["status"]) for c in commitments] == [
            ("first_response", "breached"), ("resolution", "open"),
            ("first_response", "open"), ("resolution", "open")]
        assert commitments[0]["breached_at"] == "2026-11-16T14:00:00+00:00"
        assert commitments[0]["customer_name"] == "María García Núñez"
        assert commitments[0]["moment_type"] == "complaint"
        (comp,) = rows_of(export_bytes("compensations"))
        assert (comp["kind"], comp["value"], comp["cost"], comp["status"], comp["commitment_kind"]) == (
            "discount", "10.00", "6.00", "proposed", "first_response")
        assert comp["customer_email"] == "maria.garcia@example.es" and comp["decided_at"] == ""
        assert comp["escalated"] == "false"

    def test_same_data_gives_the_same_bytes_in_any_batch_size(self, data):
        for entity in ("customers", "moments", "commitments", "compensations", "purchases"):
            once = export_bytes(entity)
            assert once == export_bytes(entity) == export_bytes(entity, batch=1), entity

    def test_batches_are_one_query_each(self, app, data):
        statements = []

        def count(*_args):
            statements.append(1)

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            job = services.prepare_export(None, "commitments", {}, datetime.now(timezone.utc), zone=ZONE)
            statements.clear()
            batches = list(job.batches(batch=1))
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        # 4 rows in batches of one: 4 queries, the last one answers 1 row < batch... plus the empty tail.
        assert len(batches) == 4 and len(statements) == 5

    def test_audited(self, data, supervisor):
        actor = db.session.get(User, supervisor.id)
        services.prepare_export(actor, "moments", {"channel": "email"}, datetime.now(timezone.utc), zone=ZONE,
                                form=EXCEL, via="api")
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "export.started"))
        assert (event.user_id, event.entity, event.details) == (
            supervisor.id, "moments", {"filters": {"channel": "email"}, "form": "excel", "via": "api"})

    def test_agents_may_not_export(self, data, agent):
        with pytest.raises(Forbidden):
            services.prepare_export(db.session.get(User, agent.id), "customers", {}, datetime.now(timezone.utc),
                                    zone=ZONE)

    def test_unknown_entity(self, ctx):
        with pytest.raises(NotFound):
            services.prepare_export(None, "users", {}, datetime.now(timezone.utc), zone=ZONE)


class TestFilters:
    def test_customers_like_the_list(self, data, supervisor):
        def names(args):
            return [r["name"] for r in rows_of(export_bytes("customers", args))]

        assert names({"q": "garc"}) == ["María García Núñez"]
        assert names({"q": "600 000"}) == ["'" + HOSTILE_NAME]
        assert names({"segment": "Empresa"}) == ["'" + HOSTILE_NAME]
        assert names({"owner": str(supervisor.id)}) == names({"owner_id": "supervisor@example.es"}) == [
            "'" + HOSTILE_NAME]
        assert names({"stage": "churned"}) == []

    def test_customers_agree_with_the_list_service(self, data):
        from crm.customers.services import search_customers

        listed = {c.email for c in search_customers("empresa").items}
        exported = {r["email"] for r in rows_of(export_bytes("customers", {"q": "empresa"}))}
        assert listed == exported == {"hostil@example.es"}

    def test_moments_by_customer_type_channel_and_local_days(self, data):
        def emails(args):
            return [r["customer_email"] for r in rows_of(export_bytes("moments", args))]

        assert emails({"customer": str(data["other"])}) == ["hostil@example.es"]
        assert emails({"channel": "email"}) == ["hostil@example.es"]
        assert emails({"moment_type": "complaint"}) == emails({}) and len(emails({})) == 2
        assert emails({"from": "2026-11-17"}) == ["hostil@example.es"]
        assert emails({"to": "2026-11-16"}) == ["maria.garcia@example.es"]
        assert emails({"from": "2026-11-20", "to": "2026-11-30"}) == []

    def test_commitments_statuses_owner_customer(self, data, agent):
        def kinds(args):
            return [(r["customer_email"], r["status"]) for r in rows_of(export_bytes("commitments", args))]

        from werkzeug.datastructures import MultiDict

        assert kinds({"status": "breached"}) == [("maria.garcia@example.es", "breached")]
        assert len(kinds(MultiDict([("status", "open"), ("status", "paused")]))) == 3
        assert len(kinds({"owner": str(agent.id)})) == 4
        assert {c for c, _ in kinds({"customer_id": str(data["other"])})} == {"hostil@example.es"}

    def test_compensations_and_purchases(self, data):
        assert len(rows_of(export_bytes("compensations", {"status": "proposed"}))) == 1
        assert rows_of(export_bytes("compensations", {"status": "issued"})) == []
        assert len(rows_of(export_bytes("compensations", {"tier": "standard", "since": "2026-11-01"}))) == 1
        got = rows_of(export_bytes("purchases", {"from": "2026-11-11", "to": "2026-11-14"}))
        assert [r["currency"] for r in got] == ["USD"]
        assert rows_of(export_bytes("purchases", {"customer": str(data["other"])}))[0]["amount"] == "7.00"

    @pytest.mark.parametrize("entity,args,field", [
        ("customers", {"stage": "nope"}, "stage"),
        ("customers", {"owner": "12abc"}, "owner"),
        ("customers", {"owner": "ghost@example.es"}, "owner"),
        ("customers", {"owner": "99999999999999999999"}, "owner"),
        ("customers", {"q": "x" * 201}, "q"),
        ("customers", {"q": "a\x00b"}, "q"),
        ("moments", {"from": "2026-02-30"}, "from"),
        ("moments", {"to": "yesterday"}, "to"),
        ("moments", {"from": "2026-11-20", "to": "2026-11-01"}, "to"),
        ("moments", {"moment_type": "nope"}, "moment_type"),
        ("moments", {"channel": "pigeon"}, "channel"),
        ("moments", {"customer": "-1"}, "customer"),
        ("moments", {"customer": "424242"}, "customer"),
        ("commitments", {"status": "lost"}, "status"),
        ("compensations", {"tier": "gold"}, "tier"),
        ("compensations", {"team": "7"}, "team"),
        ("purchases", {"from": "0001-01-01"}, "from"),
    ])
    def test_bad_values_are_refused_by_name(self, ctx, entity, args, field):
        with pytest.raises(ValidationFailed) as caught:
            clean_filters(entity, args, ZONE)
        assert field in caught.value.fields

    def test_unrelated_arguments_are_ignored(self, data):
        assert len(rows_of(export_bytes("purchases", {"page": "3", "format": "csv", "stage": "x"}))) == 2
