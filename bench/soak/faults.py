"""Faults injected while the users work: a web worker and the scheduler SIGKILLed, the
database's connections cut (or PostgreSQL restarted), the SMTP server stopped for a while.

Each fault is timed: when it struck, when the system was whole again (recovered on its
own: gunicorn replaces the worker, the pool's pre-ping replaces dead connections; the
scheduler is restarted by us, as systemd would), and the window during which a user's
failed request is blamed on it rather than on the app.
"""
from __future__ import annotations

import random
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass

import httpx
import sqlalchemy as sa

# Errors a fault may cause: a killed worker drops its connections (transport errors); a
# database cut fails the requests in the middle of a query (a 500) or of a connection.
EXCUSES = {"worker": {"transport"}, "database": {"transport", "5xx"}}
GRACE = 5.0  # seconds after recovery during which requests started before it may still fail
SCHEDULER_RESTART_DELAY = 2.0  # systemd's RestartSec


@dataclass
class Fault:
    kind: str
    at: float  # monotonic seconds
    detail: str = ""
    recovered_after: float | None = None  # seconds, None: did not recover
    until: float | None = None  # end of the window that excuses errors

    def disturbs(self, when: float) -> bool:
        """Whether a request started at `when` ran while this fault was being recovered from
        (a worker or scheduler booting takes a CPU for a second or two)."""
        if self.kind == "smtp":  # invisible to the pages
            return False
        end = self.at + (self.recovered_after if self.recovered_after is not None else float("inf")) + GRACE
        return self.at - 0.5 <= when <= end

    def excuses(self, when: float, kind: str) -> bool:
        end = self.until if self.until is not None else float("inf")
        return kind in EXCUSES.get(self.kind, ()) and self.at - 0.5 <= when <= end


def plan(duration: float, engine: str, smtp_outage: float, rng: random.Random) -> list[tuple[float, str]]:
    """(seconds after the start, kind), at random moments between 15% and 85% of the run.
    Repeats of one kind fall in separate stretches at least a tenth of the run apart, so
    that a fault never strikes a process still recovering from the one before."""
    repeats = 2 if duration >= 180 else 1
    kinds = {"worker": repeats, "scheduler": repeats, "database": 1 if engine == "postgresql" else 0}
    schedule = []
    for kind, count in kinds.items():
        width = 0.7 / max(count, 1)
        gap = 0.1 if count > 1 else 0.0
        schedule += [(rng.uniform(0.15 + i * width, 0.15 + (i + 1) * width - gap) * duration, kind)
                     for i in range(count)]
    latest_smtp = max(0.1 * duration, 0.85 * duration - smtp_outage)
    schedule.append((rng.uniform(0.1 * duration, latest_smtp), "smtp"))
    return sorted(schedule)


class FaultInjector(threading.Thread):
    def __init__(self, stack, sink, schedule, *, started: float, stop: threading.Event, smtp_outage: float,
                 pg_fault: str, rng: random.Random):
        super().__init__(daemon=True)
        self.stack, self.sink, self.schedule, self.started, self.stop = stack, sink, schedule, started, stop
        self.smtp_outage, self.pg_fault, self.rng = smtp_outage, pg_fault, rng
        self.faults: list[Fault] = []
        self.lock = threading.Lock()
        self._helpers: list[threading.Thread] = []

    def run(self) -> None:
        for offset, kind in self.schedule:
            if self.stop.wait(max(0.0, self.started + offset - time.monotonic())):
                break
            # Each fault recovers in its own thread, so a slow recovery does not delay the next fault.
            helper = threading.Thread(target=getattr(self, f"_{kind}"), daemon=True)
            helper.start()
            self._helpers.append(helper)
        for helper in self._helpers:
            helper.join()

    def _record(self, fault: Fault) -> Fault:
        with self.lock:
            self.faults.append(fault)
        return fault

    def _wait_for(self, fault: Fault, check, limit: float = 90.0) -> None:
        """Poll `check` until it holds; the recovery time counts from the fault itself."""
        start = time.monotonic()
        while time.monotonic() - start < limit:
            try:
                if check():
                    fault.recovered_after = time.monotonic() - fault.at
                    return
            except Exception:  # not yet: the point is to wait through the failure
                pass
            time.sleep(0.2)

    def _worker(self) -> None:
        pids = self.stack.worker_pids()
        victim = self.rng.choice(pids)
        fault = self._record(Fault("worker", time.monotonic(), f"SIGKILL web worker pid {victim}"))
        self.stack.kill_worker(victim)

        def replaced():
            now = self.stack.worker_pids()
            return victim not in now and len(now) == self.stack.workers and \
                httpx.get(self.stack.base_url + "/healthz", timeout=2).status_code == 200

        self._wait_for(fault, replaced)
        fault.until = time.monotonic() + GRACE

    def _scheduler(self) -> None:
        fault = self._record(Fault("scheduler", time.monotonic()))
        victim = self.stack.kill_scheduler()
        time.sleep(SCHEDULER_RESTART_DELAY)
        self.stack.start_scheduler()
        fresh = self.stack.scheduler.pid
        fault.detail = f"SIGKILL scheduler pid {victim}, restarted as pid {fresh} after {SCHEDULER_RESTART_DELAY:g} s"

        def beating():  # the new process's first heartbeat is its first job
            with self.stack.db().connect() as connection:
                return connection.execute(sa.text("SELECT pid FROM scheduler_heartbeats")).scalar() == fresh

        self._wait_for(fault, beating)
        fault.until = time.monotonic()

    def _database(self) -> None:
        fault = self._record(Fault("database", time.monotonic()))
        with self.stack.db().connect() as connection:
            others = connection.execute(sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname IS NOT NULL "
                "AND datname <> current_database() AND pid <> pg_backend_pid()")).scalar()
        if self.pg_fault == "restart" and not others:
            cluster = _cluster()
            fault.detail = f"pg_ctlcluster {cluster[0]} {cluster[1]} restart"
            subprocess.run(["pg_ctlcluster", *cluster, "restart"], check=True, capture_output=True)
        else:
            with self.stack.db().connect() as connection:
                cut = connection.execute(sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
                connection.commit()
            fault.detail = f"pg_terminate_backend on all {cut} connections of the app (web workers and scheduler)"
            if self.pg_fault == "restart":  # somebody else's work must not die with our restart
                fault.detail += f"; no restart: {others} connections to other databases on that server"

        def serving():
            body = httpx.get(self.stack.base_url + "/readyz", timeout=5).json()
            return body["checks"]["database"]["ok"]

        self._wait_for(fault, serving)
        fault.until = time.monotonic() + GRACE

    def _smtp(self) -> None:
        fault = self._record(Fault("smtp", time.monotonic(), f"SMTP server stopped for {self.smtp_outage:g} s"))
        self.sink.stop()
        self.stop.wait(self.smtp_outage)
        self.sink.start()
        fault.recovered_after = self.smtp_outage
        fault.until = time.monotonic()


def _cluster() -> tuple[str, str]:
    """The (version, name) of the local cluster on port 5432, from pg_lsclusters."""
    listing = subprocess.run(["pg_lsclusters", "--no-header"], check=True, capture_output=True, text=True).stdout
    for line in listing.splitlines():
        version, name, port, *_ = line.split()
        if port == "5432":
            return version, name
    raise RuntimeError("no PostgreSQL cluster on port 5432")


def can_restart_postgresql() -> bool:
    return shutil.which("pg_ctlcluster") is not None and shutil.which("pg_lsclusters") is not None
