"""Large imports from the page, run by the scheduler (crm.imports.jobs), and the run's files."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from crm.auth.models import User
from crm.customers.models import Customer, StageChange
from crm.domain import Conflict
from crm.extensions import db
from crm.imports import jobs, runs, services, writing
from crm.imports.models import ImportRun
from tests.conftest import NOW


@pytest.fixture
def ctx(app):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        yield
        db.session.rollback()


def customers_file(rows: int, broken_every: int = 0) -> bytes:
    lines = ["nombre;correo;teléfono"]
    for i in range(rows):
        email = f"c{i}@" if broken_every and i % broken_every == 0 else f"c{i}@example.es"
        lines.append(f"Cliente Núñez {i};{email};6{i:08d}")
    return ("\r\n".join(lines) + "\r\n").encode("utf-8-sig")


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def queued_run(admin_id: int, data: bytes) -> int:
    actor = db.session.get(User, admin_id)
    run = runs.create_run(actor, "customers", "grande.csv", data, NOW)
    runs.queue_run(actor, run, NOW)
    db.session.commit()
    return run.id


def error_lines(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))


def test_a_queued_run_is_imported_by_the_scheduler_batch_by_batch(ctx, admin):
    run_id = queued_run(admin.id, customers_file(250, broken_every=50))
    assert count(Customer) == 0
    progress = []
    real_commit = db.session.commit

    def watch():
        real_commit()
        with db.engine.connect() as other:  # what the page's own connection sees
            progress.append(other.execute(select(ImportRun.status, ImportRun.counts, ImportRun.position)
                                          .where(ImportRun.id == run_id)).one())

    db.session.commit = watch
    try:
        said = jobs.run_queued(NOW, batch_size=100)
    finally:
        del db.session.commit
    assert said.startswith(f"run {run_id} (customers): 250 rows: 245 created")
    # Each batch committed with the run's progress: running, counts growing, bytes read.
    batches = [p for p in progress if p.status == "running" and p.counts]
    assert [p.counts["rows"] for p in batches] == [100, 200, 250]
    assert [p.counts["created"] for p in batches] == [98, 196, 245]
    assert 0 < batches[0].position <= batches[1].position <= batches[2].position == len(customers_file(250, 50))
    run = db.session.get(ImportRun, run_id)
    assert run.status == "imported" and run.claim is None and run.attempts == 1
    assert run.counts == {"rows": 250, "created": 245, "updated": 0, "unchanged": 0, "rejected": 5}
    assert run.has_errors and [r[-2] for r in error_lines(run.errors_csv)[1:]] == ["2", "52", "102", "152", "202"]
    assert count(Customer) == 245
    assert jobs.run_queued(NOW) is None  # nothing left: idle
    with pytest.raises(Conflict):
        runs.import_or_queue(db.session.get(User, admin.id), run, NOW, db.session.commit)


def test_two_schedulers_never_claim_the_same_run(ctx, admin):
    first = queued_run(admin.id, customers_file(3))
    second = queued_run(admin.id, customers_file(4))
    assert jobs.claim(NOW, "a" * 32) == first
    assert jobs.claim(NOW, "b" * 32) == second  # the next one, not the running one
    assert jobs.claim(NOW, "c" * 32) is None
    db.session.commit()
    claims = dict(db.session.execute(select(ImportRun.id, ImportRun.claim)).all())
    assert claims == {first: "a" * 32, second: "b" * 32}


def test_a_run_whose_scheduler_died_is_taken_up_again_without_duplicates(ctx, admin, monkeypatch):
    run_id = queued_run(admin.id, customers_file(250))
    real_create = writing.CustomerWriter._create
    calls = {"n": 0}

    def die_in_the_second_batch(self, creation):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # the process is killed: nothing marks the run
        return real_create(self, creation)

    monkeypatch.setattr(writing.CustomerWriter, "_create", die_in_the_second_batch)
    with pytest.raises(KeyboardInterrupt):
        jobs.run_queued(NOW, clock=lambda: NOW, batch_size=100)
    db.session.rollback()
    monkeypatch.setattr(writing.CustomerWriter, "_create", real_create)
    run = db.session.get(ImportRun, run_id)
    assert (run.status, run.counts["created"]) == ("running", 100) and count(Customer) == 100
    # Within the lease it is still someone's: another scheduler leaves it alone.
    assert jobs.run_queued(NOW + timedelta(minutes=1), clock=lambda: NOW) is None
    later = NOW + jobs.LEASE + timedelta(seconds=1)
    said = jobs.run_queued(later, clock=lambda: later, batch_size=100)
    assert said is not None
    db.session.expire_all()
    run = db.session.get(ImportRun, run_id)
    assert run.status == "imported" and run.attempts == 2
    assert run.counts == {"rows": 250, "created": 150, "updated": 0, "unchanged": 100, "rejected": 0}
    assert count(Customer) == 250 and count(StageChange) == 250


def test_a_failing_batch_marks_the_run_failed_and_keeps_earlier_batches(ctx, admin, monkeypatch):
    run_id = queued_run(admin.id, customers_file(250, broken_every=100))
    real_create = writing.CustomerWriter._create
    calls = {"n": 0}

    def fail_in_the_third_batch(self, creation):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk on fire")
        return real_create(self, creation)

    monkeypatch.setattr(writing.CustomerWriter, "_create", fail_in_the_third_batch)
    assert jobs.run_queued(NOW, batch_size=100) == f"run {run_id} failed"
    run = db.session.get(ImportRun, run_id)
    assert run.status == "failed" and run.counts["stopped_at_line"] == 202
    assert count(Customer) == 198  # the two batches before it, less their rejected rows
    assert [r[-2] for r in error_lines(run.errors_csv)[1:]] == ["2", "102"]
    # Queued again (the button on the page), it finishes: rows already there stay as they are.
    monkeypatch.setattr(writing.CustomerWriter, "_create", real_create)
    runs.queue_run(db.session.get(User, admin.id), run, NOW)
    db.session.commit()
    jobs.run_queued(NOW, batch_size=100)
    run = db.session.get(ImportRun, run_id)
    assert run.status == "imported" and count(Customer) == 247
    assert (run.counts["unchanged"], run.counts["created"], run.counts["rejected"]) == (198, 49, 3)


def test_a_check_keeps_every_rejected_row_in_its_error_file(ctx, admin):
    """The page lists the first rows; the error file has them all, far past what is kept in memory."""
    actor = db.session.get(User, admin.id)
    run = runs.create_run(actor, "customers", "rotos.csv", customers_file(3000, broken_every=2), NOW)
    summary = runs.check_run(actor, run, runs.mapping_of(run), NOW, keep_errors=100)
    assert summary.rejected == 1500 and len(summary.errors) == 100
    rows = error_lines(run.errors_csv)
    assert rows[0] == ["nombre", "correo", "teléfono", "line", "error"]
    assert len(rows) == 1 + 1500
    assert [r[3] for r in rows[1:]] == [str(i + 2) for i in range(0, 3000, 2)]
    assert rows[-1][1] == "c2998@" and rows[-1][4] == "Email: is not a valid email address"


def test_the_upload_is_decoded_once_and_later_steps_use_what_was_found(ctx, admin, monkeypatch):
    actor = db.session.get(User, admin.id)
    data = "nombre,correo\r\nÍñigo Muñoz,inigo@example.es\r\n".encode("cp1252")
    run = runs.create_run(actor, "customers", "latin.csv", data, NOW)
    assert (run.encoding, run.delimiter, run.header, run.size) == ("cp1252", ",", ["nombre", "correo"], len(data))

    def no_detection(stream):
        raise AssertionError("detected again")

    monkeypatch.setattr(services.reading, "detect", no_detection)
    runs.check_run(actor, run, runs.mapping_of(run), NOW)
    sample = services.preview("customers", io.BytesIO(run.content), runs.mapping_of(run), NOW,
                              dialect=runs.dialect_of(run))
    assert sample[0]["read"]["name"] == "Íñigo Muñoz"
    assert runs.header_of(run) == ["nombre", "correo"]
    summary = runs.import_or_queue(actor, run, NOW, db.session.commit)
    assert summary.created == 1 and run.status == "imported"
