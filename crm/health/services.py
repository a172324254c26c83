"""The heartbeat the scheduler writes and the readiness checks /readyz reports.

Readiness stays cheap: on its own pooled connection, one query for the migration
revision and one for the last heartbeat (PostgreSQL adds a `SET LOCAL` so that a
stuck database answers "not ready" within two seconds instead of holding a worker).
"""
from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from crm.extensions import db
from crm.health.models import SchedulerHeartbeat

log = logging.getLogger("crm.health")

SCHEDULER = "scheduler"
QUERY_TIMEOUT_MS = 2000


def beat(now: datetime, name: str = SCHEDULER) -> None:
    """Record that the scheduler `name` is alive at `now` (one upsert; the caller commits)."""
    table = SchedulerHeartbeat.__table__
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(table).values(name=name, beat_at=now, host=socket.gethostname()[:255], pid=os.getpid())
    db.session.execute(statement.on_conflict_do_update(
        index_elements=[table.c.name],
        set_={column: statement.excluded[column] for column in ("beat_at", "host", "pid")}))


@dataclass(frozen=True)
class Migrations:
    """The migration history this code ships, read once when the app starts, so that a
    process keeps judging the database by the code it runs even if newer files land on disk."""

    heads: frozenset[str]
    known: frozenset[str]

    @classmethod
    def from_directory(cls, directory: str) -> Migrations:
        from alembic.config import Config
        from alembic.script import ScriptDirectory

        config = Config()
        config.set_main_option("script_location", directory)
        script = ScriptDirectory.from_config(config)
        return cls(frozenset(script.get_heads()), frozenset(rev.revision for rev in script.walk_revisions()))

    def state(self, revisions: set[str]) -> str:
        """current; behind (never migrated, or older than this code: run `db upgrade`);
        ahead (a revision this code does not know: a newer release migrated the database)."""
        if revisions == self.heads:
            return "current"
        return "behind" if revisions <= self.known else "ahead"


@dataclass(frozen=True)
class Check:
    ok: bool
    state: str
    age_seconds: int | None = None

    def as_dict(self) -> dict:
        body = {"ok": self.ok, "state": self.state}
        if self.age_seconds is not None:
            body["age_seconds"] = self.age_seconds
        return body


def heartbeat_check(last_beat: datetime | None, now: datetime, max_age: timedelta) -> Check:
    if last_beat is None:
        return Check(False, "missing")
    age = max(now - last_beat, timedelta(0))  # another host's clock may run a little ahead
    return Check(age <= max_age, "fresh" if age <= max_age else "stale", int(age.total_seconds()))


def readiness(now: datetime, migrations: Migrations, max_age: timedelta) -> dict[str, Check]:
    """database: reachable within the timeout; migrations: the database's revision is this
    code's head; scheduler: a heartbeat no older than `max_age`."""
    checks = {"database": Check(False, "unreachable"), "migrations": Check(False, "unknown"),
              "scheduler": Check(False, "unknown")}
    try:
        with db.engine.connect() as connection:
            revisions = _revisions(connection)
            checks["database"] = Check(True, "reachable")
            state = migrations.state(revisions)
            checks["migrations"] = Check(state == "current", state)
            if state != "behind":  # behind, the heartbeat table may not be there yet
                last_beat = connection.execute(sa.select(sa.func.max(SchedulerHeartbeat.beat_at))).scalar()
                checks["scheduler"] = heartbeat_check(last_beat, now, max_age)
    except SQLAlchemyError as exc:
        # Details go to the log only: the answer is public and must not carry them. One line
        # per probe (load balancers ask every few seconds); the traceback at debug level.
        log.warning("readiness: the database check failed (%s)", type(exc).__name__)
        log.debug("readiness: the database check failed", exc_info=True)
    return checks


def _limit_time(connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SET LOCAL statement_timeout = {QUERY_TIMEOUT_MS}")


def _revisions(connection) -> set[str]:
    _limit_time(connection)
    try:
        return set(connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalars())
    except DBAPIError:
        connection.rollback()
        _limit_time(connection)
        if sa.inspect(connection).has_table("alembic_version"):
            raise  # the table is there: the database itself is in trouble (a timeout, say)
        return set()  # never migrated
