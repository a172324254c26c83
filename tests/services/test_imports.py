"""CSV imports through the service: files as real users' spreadsheets write them."""
from __future__ import annotations

import io
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from crm import bulk
from crm.auth.models import User
from crm.customers import search_index
from crm.customers.models import Customer, Purchase, StageChange
from crm.domain import ValidationFailed
from crm.extensions import db
from crm.imports import reading, services, writing
from crm.insights.rollup.models import RollupDirty
from crm.moments.models import Commitment, Moment
from tests.conftest import NOW

CUSTOMERS_HEADER = "name;email;phone;company;segment;stage;loyalty;tier;language;marketing_consent;owner_email;created_at"


@pytest.fixture
def ctx(app):
    """An app context whose reader asks for English, so the reasons read as below."""
    with app.test_request_context(headers={"Accept-Language": "en"}):
        yield
        db.session.rollback()


def csv_bytes(lines: list[str], *, encoding="utf-8-sig", newline="\r\n") -> bytes:
    return newline.join(lines).encode(encoding) + newline.encode()


def run(kind, data: bytes, actor_id, **kw):
    actor = db.session.get(User, actor_id)
    commit = kw.pop("commit", db.session.commit)
    summary = services.run_import(kind, io.BytesIO(data), actor=actor, now=NOW, commit=commit, **kw)
    if not kw.get("dry_run"):
        db.session.commit()
    return summary


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def customer_by_email(email):
    return db.session.scalar(select(Customer).where(Customer.email == email))


def terms_of(customer_id) -> set[str]:
    return search_index.terms_of([customer_id]).get(customer_id, set())


def reasons(summary):
    return {e.line: e.reason() for e in summary.errors}


# --- reading ------------------------------------------------------------------------

def test_values_are_read_as_spanish_spreadsheets_write_them():
    zone = reading.ZoneInfo("Europe/Madrid")
    assert reading.parse_decimal("1.234,50") == Decimal("1234.50")
    assert reading.parse_decimal("1234.50") == Decimal("1234.50")
    assert reading.parse_decimal("1234,5") == Decimal("1234.5")
    assert reading.parse_decimal("1,234.50") == Decimal("1234.50")
    assert reading.parse_decimal("12 €") == Decimal("12")
    assert reading.parse_decimal("1e9") is None and reading.parse_decimal("doce") is None
    assert reading.parse_date("22/11/2026", zone) == date(2026, 11, 22)
    assert reading.parse_date("2026-11-22", zone) == date(2026, 11, 22)
    assert reading.parse_date("31/02/2026", zone) is None
    assert reading.parse_instant("22/11/2026 10:30", zone) == datetime(2026, 11, 22, 9, 30, tzinfo=timezone.utc)
    assert reading.parse_instant("2026-11-22T10:30:00+01:00", zone) == datetime(2026, 11, 22, 9, 30,
                                                                               tzinfo=timezone.utc)
    assert reading.parse_instant("2026-07-01T10:30", zone) == datetime(2026, 7, 1, 8, 30, tzinfo=timezone.utc)
    assert reading.unescape("'=SUM(A1)") == "=SUM(A1)" and reading.unescape("'hola") == "'hola"
    # Two apostrophes: the export protected a text that had its own ("'=x"), which comes back.
    assert reading.unescape("''=x") == "'=x" and reading.unescape("''hola") == "''hola"
    assert reading.header_key(" Teléfono ") == "telefono"


def test_encoding_and_delimiter_are_detected():
    utf8_bom = io.BytesIO("nombre;correo\r\nÑandú;a@b.es\r\n".encode("utf-8-sig"))
    assert reading.detect(utf8_bom) == reading.Dialect("utf-8-sig", ";")
    latin = io.BytesIO("nombre,correo\r\nÑandú,a@b.es\r\n".encode("cp1252"))
    assert reading.detect(latin) == reading.Dialect("cp1252", ",")
    quoted = io.BytesIO(b'"a;b",c,d\n')
    assert reading.detect(quoted).delimiter == ","
    with pytest.raises(reading.UnreadableFile):
        reading.detect(io.BytesIO(b"PK\x03\x04\x00\x00binary"))
    with pytest.raises(reading.UnreadableFile):
        reading.detect(io.BytesIO(b"\xef\xbb\xbf\r\n\r\n"))


# --- customers ------------------------------------------------------------------------

def test_customers_from_spanish_excel_with_bom_latin_accents_and_blank_lines(ctx, admin, supervisor):
    data = csv_bytes([
        CUSTOMERS_HEADER,
        "Begoña Ñúñez;BEGONA@Example.es;+34 612 345 678;Talleres Núñez;Particular;active;regular;premium;es;sí;"
        "supervisor@example.es;15/03/2024",
        "",
        "José Álvarez;jose@example.es;;;;;;;;no;;",
        ";;",
    ])
    summary = run("customers", data, supervisor.id)
    assert summary.counts() == {"rows": 2, "created": 2, "updated": 0, "unchanged": 0, "rejected": 0}
    begona = customer_by_email("begona@example.es")
    assert begona.name == "Begoña Ñúñez" and begona.company == "Talleres Núñez"
    assert (begona.stage, begona.loyalty, begona.tier, begona.marketing_consent) == ("active", "regular", "premium",
                                                                                      True)
    assert begona.owner_id == supervisor.id and begona.sort_name == "begona nunez"
    assert begona.created_at == datetime(2024, 3, 14, 23, 0, tzinfo=timezone.utc)
    jose = customer_by_email("jose@example.es")
    assert (jose.stage, jose.owner_id, jose.tier) == ("prospect", supervisor.id, "standard")
    # As the customer service makes them: a first stage change and search terms.
    change = db.session.scalar(select(StageChange).where(StageChange.customer_id == begona.id))
    assert (change.from_stage, change.to_stage, change.user_id, change.reason) == (None, "active", supervisor.id,
                                                                                    "imported")
    assert change.at == begona.created_at
    terms = terms_of(begona.id)
    assert {"begona", "nunez", "talleres", "begona@example.es", "34612345678", "612345678"} <= terms
    assert db.session.scalar(select(func.count()).select_from(RollupDirty)) > 0


def test_latin1_file_with_comma_delimiter(ctx, admin):
    data = csv_bytes(["nombre,correo,teléfono,empresa", "Íñigo Muñoz,inigo@example.es,612 000 111,Cañas SL"],
                     encoding="cp1252")
    summary = run("customers", data, admin.id)
    assert summary.dialect == reading.Dialect("cp1252", ",") and summary.created == 1
    inigo = customer_by_email("inigo@example.es")
    assert (inigo.name, inigo.phone, inigo.company) == ("Íñigo Muñoz", "612 000 111", "Cañas SL")


def test_running_the_same_file_again_changes_nothing(ctx, admin):
    data = csv_bytes([CUSTOMERS_HEADER] + [f"Cliente {i};c{i}@example.es;6000000{i:02d};;;new;;;;;;" for i in range(30)])
    first = run("customers", data, admin.id, batch_size=100)
    assert first.created == 30
    changes, terms = count(StageChange), search_index.count_terms()
    again = run("customers", data, admin.id, batch_size=100)
    assert again.counts() == {"rows": 30, "created": 0, "updated": 0, "unchanged": 30, "rejected": 0}
    assert (count(Customer), count(StageChange), search_index.count_terms()) == (30, changes, terms)


def test_existing_customers_match_by_email_then_by_phone_and_are_updated(ctx, admin, customer):
    data = csv_bytes([
        "name,email,phone,segment,stage",
        "María García Núñez,MARIA.GARCIA@example.es,,Empresa,loyal",  # by email: segment and stage change
        "María G.,,612345678,,",  # by phone, national form of +34 612 345 678: the name changes
        "Otra Persona,otra@example.es,+34 612 345 678,,",  # shares the phone, has another email: a new customer
    ], encoding="utf-8")
    summary = run("customers", data, admin.id)
    assert (summary.created, summary.updated, summary.unchanged) == (1, 2, 0)
    maria = db.session.get(Customer, customer)
    assert (maria.name, maria.segment, maria.stage, maria.phone) == ("María G.", "Empresa", "loyal", "+34 612 345 678")
    moves = db.session.execute(select(StageChange.from_stage, StageChange.to_stage, StageChange.reason).where(
        StageChange.customer_id == customer).order_by(StageChange.id)).all()
    assert moves[-1] == ("active", "loyal", "imported")
    # The search index follows the new name.
    terms = terms_of(customer)
    assert "g" in terms and "garcia" not in terms
    assert count(Customer) == 2


def test_renamed_customers_are_searched_by_their_new_names(ctx, admin):
    """Customers an import renames are reindexed together, whatever their ids (here not
    consecutive); the others keep their terms."""
    run("customers", csv_bytes(["name;email", "Ana Ruiz;ana@example.es", "Luis Gil;luis@example.es",
                                "Eva Sanz;eva@example.es"]), admin.id)
    ana, luis, eva = (customer_by_email(f"{n}@example.es").id for n in ("ana", "luis", "eva"))
    summary = run("customers", csv_bytes(["name;email", "Ana Ortega;ana@example.es", "Eva Pardo;eva@example.es"]),
                  admin.id)
    assert summary.updated == 2
    assert terms_of(ana) == {"ana", "ortega", "ana@example.es"}
    assert terms_of(luis) == {"luis", "gil", "luis@example.es"}
    assert terms_of(eva) == {"eva", "pardo", "eva@example.es"}


def test_duplicate_rows_in_one_file_make_one_customer_and_the_later_row_wins(ctx, admin):
    data = csv_bytes([
        "name;email;segment",
        "Ana Ruiz;ana@example.es;Particular",
        "Ana Ruiz;ana@example.es;Particular",
        "Ana Ruiz;ana@example.es;Empresa",
    ])
    summary = run("customers", data, admin.id)
    assert (summary.created, summary.unchanged, summary.updated) == (1, 1, 1)
    assert count(Customer) == 1 and customer_by_email("ana@example.es").segment == "Empresa"


def test_a_customer_created_and_renamed_in_one_batch_is_searched_by_its_last_name(ctx, admin):
    """The search terms are worked out while the file is read; a later row of the same
    batch that changes a searched field makes the writer work them out again."""
    data = csv_bytes([
        "name;email;phone;company",
        "Ana Ruiz;ana@example.es;+34 612 000 111;Bicis Norte",
        "Ana Ortega;ana@example.es;;Bicis Sur",
        "Luis Gil;luis@example.es;;",
    ])
    assert run("customers", data, admin.id).created == 2
    ana = customer_by_email("ana@example.es")
    terms = terms_of(ana.id)
    assert terms == {"ana", "ortega", "bicis", "sur", "ana@example.es", "34612000111", "612000111", "4612000111"}
    luis = customer_by_email("luis@example.es")
    assert terms_of(luis.id) \
        == {"luis", "gil", "luis@example.es"}
    assert ana.sort_name == "ana ortega"


def test_bulk_inserts_keep_every_value_whether_a_column_varies_or_not(ctx, admin):
    """On SQLite a column with one value in every row is bound once and the others travel
    as JSON: a column that differs only in one row, or between None and a value, must still
    arrive row by row."""
    table = Purchase.__table__
    owner = Customer(name="Bulk", sort_name="bulk", stage="active", loyalty="occasional", tier="standard",
                     language="es", marketing_consent=False, created_at=NOW, updated_at=NOW)
    db.session.add(owner)
    db.session.flush()
    rows = [(owner.id, Decimal("10.00"), "EUR", date(2026, 1, 1), "", admin.id, NOW, f"k{i}") for i in range(5)]
    rows[-1] = (owner.id, Decimal("10.00"), "USD", date(2026, 1, 1), "last", None, NOW, "k4")
    rows[2] = (owner.id, Decimal("10.5"), "EUR", date(2026, 1, 2), "", admin.id, NOW, "k2")
    bulk.insert_rows(table, ("customer_id", "amount", "currency", "purchased_on", "description",
                                "created_by_id", "created_at", "import_key"), rows)
    stored = {p.import_key: p for p in db.session.scalars(select(Purchase).where(Purchase.customer_id == owner.id))}
    assert [(stored[k].amount, stored[k].currency, stored[k].purchased_on, stored[k].description,
             stored[k].created_by_id) for k in ("k0", "k2", "k4")] == [
        (Decimal("10.00"), "EUR", date(2026, 1, 1), "", admin.id),
        (Decimal("10.50"), "EUR", date(2026, 1, 2), "", admin.id),
        (Decimal("10.00"), "USD", date(2026, 1, 1), "last", None)]
    assert {p.created_at for p in stored.values()} == {NOW}


def _stored_customers() -> dict:
    """Every customer as stored (by email), with its search terms and stage changes."""
    columns = (*writing.CUSTOMER_COLUMNS, "sort_name", "phone_key", "created_at")
    table = Customer.__table__
    out = {}
    for row in db.session.execute(select(table.c.id, *(table.c[c] for c in columns))):
        changes = db.session.execute(select(StageChange.from_stage, StageChange.to_stage, StageChange.at,
                                            StageChange.user_id, StageChange.reason)
                                     .where(StageChange.customer_id == row.id)).all()
        out[row.email] = (tuple(row)[1:], terms_of(row.id), changes)
    return out


def test_new_customers_prepared_ahead_are_stored_as_row_by_row(ctx, admin, monkeypatch):
    """The batches the reading thread prepares as new customers (CustomerWriter.prepare_batch)
    store exactly what the row-by-row path stores for the same file."""
    data = csv_bytes([CUSTOMERS_HEADER] + [
        f"Núñez Peña {i};N{i}@Example.es;+34 6{i:08d};{'Bicis Úbeda S.L.' if i % 2 else ''};Club;"
        f"{('Activo', 'loyal', '')[i % 3]};;;{'en' if i % 4 else ''};{'sí' if i % 2 else 'no'};"
        f"{'admin@example.es' if i % 3 else ''};{f'0{1 + i % 9}/03/2024' if i % 5 else ''}" for i in range(7)]
        + ["Sin Contacto;;;;;;;;;;;"])
    prepared_ahead = []
    real_prepare = writing.CustomerWriter.prepare_batch

    def spy(self, items):
        prepared = real_prepare(self, items)
        prepared_ahead.append(prepared.creation is not None)
        return prepared

    monkeypatch.setattr(writing.CustomerWriter, "prepare_batch", spy)
    assert run("customers", data, admin.id, batch_size=3).created == 8
    assert prepared_ahead == [True, True, True]
    ahead = _stored_customers()

    db.session.execute(Customer.__table__.delete())
    db.session.commit()
    assert count(StageChange) == 0 and search_index.count_terms() == 0

    def row_by_row(self, items):
        prepared = real_prepare(self, items)
        prepared.creation = None
        return prepared

    monkeypatch.setattr(writing.CustomerWriter, "prepare_batch", row_by_row)
    assert run("customers", data, admin.id, batch_size=3).created == 8
    assert _stored_customers() == ahead
    assert ahead["n1@example.es"][0][:4] == ("Núñez Peña 1", "n1@example.es", "+34 600000001", "Bicis Úbeda S.L.")
    assert {"nunez", "pena", "1", "bicis", "ubeda", "n1@example.es", "600000001"} <= ahead["n1@example.es"][1]


def test_a_batch_that_names_itself_or_stored_customers_is_written_row_by_row(ctx, admin, monkeypatch):
    """Only the database can tell that a batch is all new: one that finds a stored customer,
    or whose rows name one another, takes the row-by-row path and matches them."""
    first = csv_bytes(["name;email"] + [f"C{i};c{i}@example.es" for i in range(3)])
    assert run("customers", first, admin.id).created == 3
    again = csv_bytes(["name;email;phone"] + ["D1;d1@example.es;600 111 222", "D1 again;;+34 600111222",
                                              "C0 renamed;c0@example.es;", "E;e@example.es;"])
    summary = run("customers", again, admin.id, batch_size=2)
    assert (summary.created, summary.updated, summary.unchanged) == (2, 2, 0)
    assert customer_by_email("c0@example.es").name == "C0 renamed"
    assert customer_by_email("d1@example.es").name == "D1 again" and count(Customer) == 5


def test_the_next_batch_is_read_while_this_one_is_written(ctx, admin, monkeypatch):
    """The reading thread starts on batch n+1 when the writer's statements for batch n begin
    (not while the writer's own Python runs), and reads nothing further ahead."""
    events = []
    real_check = services.CHECKS["customers"]

    def check(values, known):
        events.append(("read", values["name"]))
        return real_check(values, known)

    real_create = writing.CustomerWriter._create

    def create(self, creation):
        events.append(("insert", sum(1 for e in events if e[0] == "insert") + 1))
        return real_create(self, creation)

    monkeypatch.setitem(services.CHECKS, "customers", check)
    monkeypatch.setattr(writing.CustomerWriter, "_create", create)
    data = csv_bytes(["name;email"] + [f"C{i};c{i}@example.es" for i in range(6)])
    assert run("customers", data, admin.id, batch_size=2).created == 6
    # Batch 1 (C0, C1) is read before anything is written; batch 2 only once batch 1's
    # statements begin, and batch 3 not before batch 2's.
    assert events[:2] == [("read", "C0"), ("read", "C1")]
    assert events.index(("read", "C2")) > events.index(("insert", 1))
    assert events.index(("read", "C4")) > events.index(("insert", 2))
    assert count(Customer) == 6


def test_an_error_in_the_reading_thread_stops_the_import_with_that_error(ctx, admin, monkeypatch):
    real_check = services.CHECKS["customers"]

    def check(values, known):
        if values["name"] == "C3":
            raise LookupError("the reading thread broke")
        return real_check(values, known)

    monkeypatch.setitem(services.CHECKS, "customers", check)
    data = csv_bytes(["name;email"] + [f"C{i};c{i}@example.es" for i in range(6)])
    with pytest.raises(LookupError, match="reading thread broke"):
        run("customers", data, admin.id, batch_size=2)
    db.session.rollback()
    assert count(Customer) == 2  # the first batch, committed before the error surfaced
    assert not [t for t in services.threading.enumerate() if t.name == "import-reader"]


def test_batched_imports_check_the_wal_in_once_at_the_end(ctx, admin, monkeypatch):
    calls = []
    real = services.checkpoint
    monkeypatch.setattr(services, "checkpoint", lambda: calls.append(real()))
    data = csv_bytes(["name;email"] + [f"C{i};c{i}@example.es" for i in range(5)])
    run("customers", data, admin.id, batch_size=2)
    assert len(calls) == 1
    if db.session.get_bind().dialect.name == "sqlite":
        busy, _, _ = calls[0]
        assert busy == 0
    run("customers", data, admin.id, dry_run=True)
    run("customers", data, admin.id, commit=None)  # one transaction, committed by the caller
    assert len(calls) == 1


def test_once_the_file_is_read_the_reading_thread_checks_in_what_is_committed(ctx, admin, monkeypatch):
    """While the last batch is written, the reading thread (idle then) checkpoints the
    batches before it on a connection of its own, once; not for dry runs, nor for an
    import the caller commits as one transaction, nor on PostgreSQL (no WAL to check in)."""
    calls = []
    real = services.early_checkpoint

    def spy():
        run_it = real()
        if run_it is None:
            return None

        def recorded():
            before = db.engine.connect()
            try:
                # Seen from another connection while the last batch is being written.
                calls.append((services.threading.current_thread().name,
                              before.execute(select(func.count()).select_from(Customer)).scalar()))
            finally:
                before.close()
            run_it()
        return recorded

    monkeypatch.setattr(services, "early_checkpoint", spy)
    data = csv_bytes(["name;email"] + [f"C{i};c{i}@example.es" for i in range(5)])
    assert run("customers", data, admin.id, batch_size=2).created == 5
    sqlite = db.session.get_bind().dialect.name == "sqlite"
    # Batches (C0, C1) and (C2, C3) are committed; the last one (C4) is not yet.
    assert calls == ([("import-reader", 2 + 2)] if sqlite else [])
    assert count(Customer) == 5
    run("customers", data, admin.id, dry_run=True)
    run("customers", data, admin.id, commit=None)
    assert len(calls) == (1 if sqlite else 0)


def test_the_pool_turns_sqlite_checkpoints_back_on(tmp_path):
    """An import's connection commits without automatic checkpoints; whoever takes the
    connection from the pool next gets SQLite's default back."""
    import sqlalchemy as sa

    import crm  # noqa: F401  (registers the pool listener)

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'pool.db'}", poolclass=sa.pool.QueuePool, pool_size=1)
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
            connection.connection.info["checkpoints_off"] = True
            raw = connection.connection.dbapi_connection
        with engine.connect() as connection:
            assert connection.connection.dbapi_connection is raw  # the same connection, back from the pool
            assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
            assert "checkpoints_off" not in connection.connection.info
            assert connection.exec_driver_sql("PRAGMA journal_size_limit").scalar() == 64 * 2**20
    finally:
        engine.dispose()


def test_bulk_tuning_is_restored_after_the_last_overlapping_import():
    import gc
    import sys

    interval, collecting = sys.getswitchinterval(), gc.isenabled()
    with services.bulk_tuning():
        assert not gc.isenabled() and sys.getswitchinterval() == pytest.approx(services.SWITCH_INTERVAL)
        with services.bulk_tuning():
            pass
        assert not gc.isenabled()  # the outer import is still running
    assert gc.isenabled() == collecting and sys.getswitchinterval() == pytest.approx(interval)
    with pytest.raises(RuntimeError):
        with services.bulk_tuning():
            raise RuntimeError("an import failing")
    assert gc.isenabled() == collecting and sys.getswitchinterval() == pytest.approx(interval)


def test_rejected_rows_say_line_and_reason(ctx, admin):
    data = csv_bytes([
        CUSTOMERS_HEADER,
        ";nobody@example.es;;;;;;;;;;",  # 2: no name
        "Bad Mail;not-an-email;;;;;;;;;;",  # 3
        "Bad Stage;bs@example.es;;;;dormant;;;;;;",  # 4
        'Quoted;"q@example.es";;"Company',  # 5: a company on two lines
        'Two Lines";;;;;;;;',
        "Bad Phone;bp@example.es;12;;;;;;;;;",  # 7
        "Bad Owner;bo@example.es;;;;;;;;;ghost@example.es;",  # 8
        "Bad Consent;bc@example.es;;;;;;;;maybe;;",  # 9
        "Bad Segment;bsg@example.es;;;" + "x" * 61 + ";;;;;;;",  # 10
        "Good;good@example.es;;;;;;;;;;",  # 11
    ])
    summary = run("customers", data, admin.id)
    assert (summary.created, summary.rejected) == (2, 7)
    got = reasons(summary)
    assert set(got) == {2, 3, 4, 7, 8, 9, 10}
    assert got[2] == "Name: is required"
    assert "Email: is not a valid email address" in got[3]
    assert got[4].startswith("Stage: must be one of: prospect, new")
    assert "Phone: is not a valid phone number" in got[7]
    assert got[8] == "Owner (email): no such user"
    assert got[9] == "Marketing consent: must be yes or no"
    assert "at most 60 characters" in got[10]
    assert customer_by_email("q@example.es").company == "Company Two Lines"
    assert summary.errors[0].cells[:2] == ["", "nobody@example.es"]


def test_formulas_are_stored_as_text_and_the_export_apostrophe_is_taken_away(ctx, admin):
    data = csv_bytes([
        "name;email;company;segment",
        "=cmd|' /C calc'!A0;f1@example.es;'=HYPERLINK(\"x\");'hola",
        "'+34 Ana;f2@example.es;@SUM(1);-",
    ])
    run("customers", data, admin.id)
    first, second = customer_by_email("f1@example.es"), customer_by_email("f2@example.es")
    assert first.name == "=cmd|' /C calc'!A0"
    assert first.company == '=HYPERLINK("x")' and first.segment == "'hola"
    assert (second.name, second.company, second.segment) == ("+34 Ana", "@SUM(1)", "-")


def test_a_dry_run_writes_nothing_and_counts_what_would_happen(ctx, admin, customer):
    data = csv_bytes([
        "name;email",
        "María García Núñez;maria.garcia@example.es",
        "Nueva;nueva@example.es",
        "Nueva;nueva@example.es",
        "Sin correo;mal",
    ])
    before = (count(Customer), count(StageChange), search_index.count_terms(), count(RollupDirty))
    summary = run("customers", data, admin.id, dry_run=True, batch_size=100)
    db.session.rollback()
    assert summary.counts() == {"rows": 4, "created": 1, "updated": 0, "unchanged": 2, "rejected": 1}
    assert (count(Customer), count(StageChange), search_index.count_terms(), count(RollupDirty)) == before


def test_dry_run_remembers_customers_across_batches(ctx, admin):
    rows = [f"C{i};c{i}@example.es" for i in range(150)]
    data = csv_bytes(["name;email", *rows, *rows[:10]])
    summary = run("customers", data, admin.id, dry_run=True, batch_size=100)
    assert (summary.created, summary.unchanged) == (150, 10)


def test_a_failing_batch_leaves_nothing_and_earlier_batches_stay(ctx, admin, monkeypatch):
    data = csv_bytes(["name;email"] + [f"C{i};c{i}@example.es" for i in range(250)])
    calls = {"n": 0}
    real_create = writing.CustomerWriter._create

    def insert_then_crash(self, creation):
        calls["n"] += 1
        ids = real_create(self, creation)
        if calls["n"] == 2:
            raise RuntimeError("disk on fire")
        return ids

    monkeypatch.setattr(writing.CustomerWriter, "_create", insert_then_crash)
    with pytest.raises(services.ImportInterrupted) as caught:
        run("customers", data, admin.id, batch_size=100)
    db.session.rollback()
    assert caught.value.line == 102
    assert count(Customer) == 100 and count(StageChange) == 100
    assert customer_by_email("c99@example.es") is not None and customer_by_email("c100@example.es") is None
    # Run again once the disk is fixed: the first batch is unchanged, the rest is created.
    monkeypatch.setattr(writing.CustomerWriter, "_create", real_create)
    summary = run("customers", data, admin.id, batch_size=100)
    assert (summary.unchanged, summary.created) == (100, 150) and count(Customer) == 250


def test_unreadable_files_are_refused_with_a_reason(ctx, admin):
    for data, message in ((b"", "empty"), (b"PK\x03\x04\x00\x00", "not a CSV"),
                          (csv_bytes(["email;phone", "a@b.es;600000000"]), "needs a column for: Name")):
        with pytest.raises(ValidationFailed) as caught:
            run("customers", data, admin.id)
        assert message in caught.value.fields["file"].translated()
    assert count(Customer) == 0


def test_one_thousand_broken_rows_among_many(ctx, admin):
    lines = ["name;email;phone"]
    for i in range(5000):
        if i % 5 == 0:
            lines.append(f"Broken {i};broken{i}@;600{i:06d}")
        else:
            lines.append(f"Cliente {i};c{i}@example.es;600{i:06d}")
    summary = run("customers", csv_bytes(lines), admin.id, batch_size=1000)
    assert (summary.created, summary.rejected) == (4000, 1000)
    assert sorted(e.line for e in summary.errors)[:3] == [2, 7, 12]
    assert count(Customer) == 4000


# --- purchases ------------------------------------------------------------------------

def test_purchases_with_decimal_commas_and_both_date_forms(ctx, admin, customer):
    data = csv_bytes([
        "customer_email;customer_phone;purchased_on;amount;currency;description",
        "maria.garcia@example.es;;22/10/2026;1.234,50;;Revisión anual",
        ";+34612345678;2026-10-23;1234.50;USD;Neumáticos",
        ";612345678;24/10/2026;99,9;eur;",
        "nadie@example.es;;24/10/2026;10;;",  # no such customer
        "maria.garcia@example.es;;24/10/2026;-3;;",
        "maria.garcia@example.es;;24/10/2030;3;;",
        "maria.garcia@example.es;;ayer;3;XYZ;",
    ])
    summary = run("purchases", data, admin.id)
    assert (summary.created, summary.rejected) == (3, 4)
    got = reasons(summary)
    assert got[5] == "Customer email: no such customer"
    assert "more than 0" in got[6] and "future" in got[7]
    assert "Date: must be a date" in got[8] and "Currency" in got[8]
    rows = db.session.execute(select(Purchase.amount, Purchase.currency, Purchase.purchased_on, Purchase.description)
                              .order_by(Purchase.purchased_on)).all()
    assert rows == [(Decimal("1234.50"), "EUR", date(2026, 10, 22), "Revisión anual"),
                    (Decimal("1234.50"), "USD", date(2026, 10, 23), "Neumáticos"),
                    (Decimal("99.90"), "EUR", date(2026, 10, 24), "")]
    maria = db.session.get(Customer, customer)
    assert maria.last_activity_at == datetime(2026, 10, 24, tzinfo=timezone.utc)
    assert all(db.session.scalars(select(Purchase.import_key)))
    again = run("purchases", data, admin.id)
    assert (again.created, again.unchanged, again.rejected) == (0, 3, 4) and count(Purchase) == 3


@pytest.mark.parametrize("batch_size", [1, 10_000], ids=["twin-in-the-next-batch", "twin-in-the-same-batch"])
def test_identical_purchase_rows_are_one_purchase_and_a_description_tells_two_apart(ctx, admin, customer,
                                                                                    batch_size):
    data = csv_bytes([
        "customer_email;purchased_on;amount;description",
        "maria.garcia@example.es;22/10/2026;12,50;Café",
        "maria.garcia@example.es;22/10/2026;12,50;Café",  # the same row again: one purchase
        "maria.garcia@example.es;22/10/2026;12,50;Café (segundo)",  # a second real one
    ])
    summary = run("purchases", data, admin.id, batch_size=batch_size)
    assert (summary.created, summary.unchanged, summary.rejected) == (2, 1, 0)
    assert sorted(db.session.scalars(select(Purchase.description))) == ["Café", "Café (segundo)"]


# --- moments --------------------------------------------------------------------------

def test_moments_are_history_without_commitments(ctx, admin, agent, customer, moment_type):
    data = csv_bytes([
        "customer_email;customer_phone;moment_type;occurred_at;channel;staff_email;emotion;outcome;cost;notes",
        'maria.garcia@example.es;;complaint;14/11/2026 10:30;;agent@example.es;-2;resolved;;"Llamó enfadada;\nvuelve mañana"',
        ";612345678;complaint;2026-11-15T09:00:00+01:00;email;;'+1;;12,50;",
        "maria.garcia@example.es;;nope;14/11/2026;;;;;;",
        "maria.garcia@example.es;;complaint;14/11/2026;fax;;3;done;;",
        "maria.garcia@example.es;;complaint;;;;;;;",
    ])
    summary = run("moments", data, admin.id)
    assert (summary.created, summary.rejected) == (2, 3)
    got = reasons(summary)
    assert set(got) == {5, 6, 7}  # the quoted newline made row 2 span lines 2 and 3
    assert got[5] == "Moment type (code): no such moment type"
    assert "Channel" in got[6] and "Emotion" in got[6] and "Outcome" in got[6]
    assert got[7] == "When: is required"
    first, second = db.session.scalars(select(Moment).order_by(Moment.occurred_at)).all()
    assert first.occurred_at == datetime(2026, 11, 14, 9, 30, tzinfo=timezone.utc)
    assert (first.staff_id, first.emotion, first.outcome, first.cost, first.channel) == (
        agent.id, -2, "resolved", Decimal("18.00"), "phone")
    assert first.notes == "Llamó enfadada;\nvuelve mañana"
    assert (first.incident_id, first.resolved_contact, first.resolved_at) == (first.id, 1, first.occurred_at)
    assert (second.staff_id, second.emotion, second.cost, second.channel) == (admin.id, 1, Decimal("12.50"), "email")
    assert second.incident_id == second.id and second.resolved_at is None
    assert count(Commitment) == 0
    assert db.session.get(Customer, customer).last_activity_at == second.occurred_at
    again = run("moments", data, admin.id)
    assert (again.created, again.unchanged) == (0, 2) and count(Moment) == 2


# --- the error file ---------------------------------------------------------------------

def test_the_error_file_has_the_original_columns_line_and_reason(ctx, admin):
    data = csv_bytes(["name;email;company", ";x@example.es;=1+1", "Ok;ok@example.es;", "Bad;bad;Acme"])
    out = io.StringIO()
    summary = services.run_import("customers", io.BytesIO(data), actor=db.session.get(User, admin.id), now=NOW,
                                  on_error=services.ErrorFile(out, ["name", "email", "company"], ";"))
    db.session.rollback()
    assert summary.rejected == 2
    text = out.getvalue()
    assert text.startswith("\ufeffname;email;company;line;error\r\n")
    lines = text.lstrip("\ufeff").splitlines()
    assert lines[1] == ";x@example.es;'=1+1;2;Name: is required"
    assert lines[2] == "Bad;bad;Acme;4;Email: is not a valid email address"
    # The fixed error file imports back (the extra columns are ignored, the apostrophe taken away).
    fixed = text.replace(";x@example.es", "Fixed;x@example.es").replace("Bad;bad;", "Bad;bad@example.es;")
    summary = run("customers", fixed.encode("utf-8"), admin.id)
    assert summary.created == 2 and customer_by_email("x@example.es").company == "=1+1"


def test_customers_without_email_or_phone_are_found_again_by_name(ctx, admin):
    data = csv_bytes(["name;company", "Taller Sin Datos;Acme", "Otro Sin Datos;"])
    assert run("customers", data, admin.id).created == 2
    again = run("customers", data, admin.id)
    assert (again.created, again.unchanged) == (0, 2) and count(Customer) == 2


def test_one_thousand_broken_rows_in_a_hundred_thousand_dry_run(ctx, admin):
    lines = ["nombre;correo;teléfono;etapa"]
    for i in range(100_000):
        if i % 100 == 7:
            lines.append(f"Roto {i};roto{i}@;6{i:08d};active" if i % 200 == 7 else f"Roto {i};r{i}@example.es;;dormido")
        else:
            lines.append(f"Cliente {i};c{i}@example.es;6{i:08d};active")
    summary = run("customers", csv_bytes(lines), admin.id, dry_run=True, keep_errors=10**6)
    assert summary.counts() == {"rows": 100_000, "created": 99_000, "updated": 0, "unchanged": 0, "rejected": 1000}
    assert [e.line for e in summary.errors[:2]] == [9, 109]
    assert summary.errors[0].reason() == "Email: is not a valid email address"
    assert summary.errors[1].reason().startswith("Stage: must be one of")
    assert count(Customer) == 0
