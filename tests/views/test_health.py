"""/healthz and /readyz: public, cheap, JSON, 200 or 503 with each check stated."""
from __future__ import annotations

import os
import socket
from datetime import timedelta

import pytest
import sqlalchemy as sa

from crm import create_app
from crm.extensions import db
from crm.health import beat
from crm.health.models import SchedulerHeartbeat
from crm.types import utc_now

PG_SERVER = os.environ.get("CRM_TEST_POSTGRES")


def _stamp(app, *revisions):
    """What `flask db upgrade` leaves behind: the alembic_version table (create_all makes none)."""
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) PRIMARY KEY)"))
        conn.execute(sa.text("DELETE FROM alembic_version"))
        for revision in revisions:
            conn.execute(sa.text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": revision})


@pytest.fixture
def migrated(app):
    """The database stamped at this code's head; the table goes again afterwards."""
    heads = sorted(app.extensions["crm.health.migrations"].heads)
    _stamp(app, *heads)
    yield heads
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE alembic_version"))


def _beat(app, when):
    with app.app_context():
        beat(when)
        db.session.commit()


def test_the_migration_history_is_read_from_the_migrations_folder(app):
    migrations = app.extensions["crm.health.migrations"]
    folder = os.path.join(os.path.dirname(app.root_path), "migrations", "versions")
    files = [name for name in os.listdir(folder) if name.endswith(".py")]
    assert len(migrations.known) == len(files)
    assert "f7a1b2c3d703" in migrations.known
    assert migrations.heads and migrations.heads <= migrations.known


def _recording(app):
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    return engine, record, statements


def test_healthz_answers_without_the_database(app, client):
    engine, record, statements = _recording(app)
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        response = client.get("/healthz")
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert response.status_code == 200
    assert response.json == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers
    assert statements == []


def test_ready_with_current_migrations_and_a_fresh_heartbeat(app, client, migrated):
    _beat(app, utc_now() - timedelta(seconds=20))
    response = client.get("/readyz")
    assert response.status_code == 200, response.json
    assert response.json["status"] == "ready"
    checks = response.json["checks"]
    assert checks["database"] == {"ok": True, "state": "reachable"}
    assert checks["migrations"] == {"ok": True, "state": "current"}
    assert checks["scheduler"]["ok"] is True and checks["scheduler"]["state"] == "fresh"
    assert 19 <= checks["scheduler"]["age_seconds"] <= 60
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_is_a_couple_of_small_queries(app, client, migrated):
    _beat(app, utc_now())
    engine, record, statements = _recording(app)
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        assert client.get("/readyz").status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    queries = [s for s in statements if not s.startswith("SET LOCAL")]
    assert len(queries) == 2, statements
    assert "alembic_version" in queries[0] and "scheduler_heartbeats" in queries[1]


def test_no_heartbeat_is_not_ready(client, migrated):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["status"] == "not ready"
    assert response.json["checks"]["scheduler"] == {"ok": False, "state": "missing"}
    assert response.json["checks"]["migrations"]["ok"] is True


def test_a_stale_heartbeat_is_not_ready(app, client, migrated):
    _beat(app, utc_now() - timedelta(minutes=3))
    response = client.get("/readyz")
    assert response.status_code == 503
    scheduler = response.json["checks"]["scheduler"]
    assert scheduler["ok"] is False and scheduler["state"] == "stale" and scheduler["age_seconds"] >= 180


def test_the_age_limit_is_configurable(app, client, migrated, monkeypatch):
    _beat(app, utc_now() - timedelta(minutes=3))
    monkeypatch.setitem(app.config, "CRM_HEARTBEAT_MAX_AGE", 600)
    assert client.get("/readyz").status_code == 200


def test_a_database_behind_the_code_is_not_ready(app, client, migrated):
    _beat(app, utc_now())
    known = app.extensions["crm.health.migrations"].known - app.extensions["crm.health.migrations"].heads
    _stamp(app, sorted(known)[0])
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["migrations"] == {"ok": False, "state": "behind"}
    assert response.json["checks"]["database"]["ok"] is True


def test_a_database_never_migrated_is_behind(app, client):
    _beat(app, utc_now())
    response = client.get("/readyz")  # the test database comes from create_all: no alembic_version
    assert response.status_code == 503
    assert response.json["checks"]["migrations"] == {"ok": False, "state": "behind"}
    assert response.json["checks"]["database"]["ok"] is True


def test_a_database_migrated_by_newer_code_is_not_ready(app, client, migrated):
    _beat(app, utc_now())
    _stamp(app, "0123456789ab")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["migrations"] == {"ok": False, "state": "ahead"}


def test_an_unreachable_database_is_not_ready_and_says_nothing_about_it(tmp_path):
    if PG_SERVER:
        url = "postgresql+psycopg://fideliza:hunter2@127.0.0.1:1/nowhere?connect_timeout=2"
    else:
        url = "sqlite:///" + str(tmp_path / "no-such-folder" / "fideliza.db")
    app = create_app({"CRM_ENV": "test", "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": url})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"] == {"database": {"ok": False, "state": "unreachable"},
                                       "migrations": {"ok": False, "state": "unknown"},
                                       "scheduler": {"ok": False, "state": "unknown"}}
    body = response.get_data(as_text=True)
    for leak in ("127.0.0.1", "hunter2", "nowhere", "no-such-folder", "sqlite", "psycopg", "Error", "version"):
        assert leak not in body
    assert app.test_client().get("/healthz").status_code == 200  # alive all the same


def test_health_routes_need_no_login_and_take_no_posts(client):
    assert client.post("/readyz").status_code == 405
    assert client.post("/healthz").status_code == 405
    assert client.head("/healthz").status_code == 200


def test_the_scheduler_heartbeat_job_writes_its_row(app):
    from crm.scheduler import heartbeat_job

    heartbeat_job(app)
    with app.app_context():
        rows = db.session.scalars(sa.select(SchedulerHeartbeat)).all()
        assert len(rows) == 1
        first = rows[0].beat_at
        assert rows[0].name == "scheduler" and rows[0].pid == os.getpid() and rows[0].host
        assert abs(utc_now() - first) < timedelta(seconds=30)
    heartbeat_job(app)  # the next beat overwrites the row, it adds none
    with app.app_context():
        rows = db.session.scalars(sa.select(SchedulerHeartbeat)).all()
        assert len(rows) == 1 and rows[0].beat_at >= first


def test_a_beat_moves_the_time_and_takes_the_new_process(app, now):
    with app.app_context():
        beat(now - timedelta(minutes=5))
        db.session.commit()
        db.session.execute(sa.update(SchedulerHeartbeat).values(pid=1, host="old-host"))
        db.session.commit()
        beat(now)
        db.session.commit()
        row = db.session.scalars(sa.select(SchedulerHeartbeat)).one()
        assert (row.beat_at, row.pid, row.host) == (now, os.getpid(), socket.gethostname())


def test_the_scheduler_registers_the_heartbeat(app):
    from crm.scheduler import build_scheduler

    job = build_scheduler(app).get_job("heartbeat")
    assert job is not None and job.trigger.interval == timedelta(seconds=30)
