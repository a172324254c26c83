"""The system under test: a fresh database, gunicorn (N workers) and the scheduler, on loopback."""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a live process, from /proc (None once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class Stack:
    def __init__(self, engine: str, workdir: Path, *, port: int, smtp_url: str, workers: int, pg_server: str):
        self.engine, self.workdir, self.port, self.workers = engine, workdir, port, workers
        self.base_url = f"http://127.0.0.1:{port}"
        self.pg_server = pg_server.rstrip("/")
        self.pg_name = f"fideliza_soak_{os.getpid()}_{secrets.token_hex(3)}"
        if engine == "sqlite":
            self.database_url = "sqlite:///" + str(workdir / "soak.db")
        else:
            self.database_url = f"{self.pg_server}/{self.pg_name}"
        self.env = {**os.environ, "CRM_ENV": "production", "CRM_SECRET_KEY": secrets.token_hex(32),
                    "CRM_DATABASE_URL": self.database_url, "CRM_SECURE_COOKIES": "0",  # plain http on loopback
                    "CRM_SMTP_URL": smtp_url, "CRM_MAIL_DIR": str(workdir / "mail"),
                    "CRM_BASE_URL": self.base_url, "CRM_BIND": f"127.0.0.1:{port}",
                    "CRM_WEB_WORKERS": str(workers), "CRM_LOG_FORMAT": "json", "CRM_LOG_LEVEL": "INFO",
                    # As README advises: SQLite takes one writer at a time, so fewer threads queue for it.
                    "CRM_WEB_THREADS": os.environ.get("CRM_WEB_THREADS", "2" if engine == "sqlite" else "4")}
        self.web: subprocess.Popen | None = None
        self.scheduler: subprocess.Popen | None = None
        self.scheduler_starts = 0
        self._engine: sa.Engine | None = None

    # --- database --------------------------------------------------------------------

    def create_database(self) -> None:
        if self.engine == "postgresql":
            admin = sa.create_engine(f"{self.pg_server}/postgres", isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.exec_driver_sql(f'CREATE DATABASE "{self.pg_name}"')
            admin.dispose()

    def drop_database(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
        if self.engine == "postgresql":
            admin = sa.create_engine(f"{self.pg_server}/postgres", isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')
            admin.dispose()

    def prepare(self, *, customers: int, moments: int, agents: int, supervisors: int, seed: int) -> dict:
        out = self.workdir / "fixture.json"
        subprocess.run([sys.executable, "-m", "bench.soak.prepare", str(out), str(customers), str(moments),
                        str(agents), str(supervisors), str(seed)],
                       cwd=ROOT, env=self.env, check=True, stdout=subprocess.DEVNULL,
                       stderr=open(self.workdir / "prepare.log", "wb"))
        return json.loads(out.read_text(encoding="utf-8"))

    def db(self) -> sa.Engine:
        """The harness's own connection to the database (checks and faults), never the app's."""
        if self._engine is None:
            self._engine = sa.create_engine(self.database_url, pool_pre_ping=True)
        return self._engine

    # --- processes -------------------------------------------------------------------

    def start_web(self) -> None:
        self.web = subprocess.Popen([str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py")], cwd=ROOT,
                                    env=self.env, stdout=subprocess.DEVNULL,
                                    stderr=open(self.workdir / "web.log", "ab"))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.web.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.web.returncode}; see {self.workdir / 'web.log'}")
            try:
                if httpx.get(self.base_url + "/healthz", timeout=2).status_code == 200 \
                        and len(self.worker_pids()) == self.workers:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        raise RuntimeError("gunicorn did not answer /healthz within 60 s")

    def start_scheduler(self) -> None:
        self.scheduler_starts += 1
        self.scheduler = subprocess.Popen([str(BIN / "flask"), "--app", "wsgi", "crm", "scheduler"], cwd=ROOT,
                                          env=self.env, stdout=subprocess.DEVNULL,
                                          stderr=open(self.workdir / "scheduler.log", "ab"))

    def worker_pids(self) -> list[int]:
        return _children(self.web.pid) if self.web else []

    def kill_worker(self, pid: int) -> None:
        os.kill(pid, signal.SIGKILL)

    def kill_scheduler(self) -> int:
        pid = self.scheduler.pid
        self.scheduler.send_signal(signal.SIGKILL)
        self.scheduler.wait()
        return pid

    def stop(self) -> None:
        """The scheduler first (Ctrl-C: it finishes its job), then gunicorn (graceful SIGTERM)."""
        for process, sig in ((self.scheduler, signal.SIGINT), (self.web, signal.SIGTERM)):
            if process is None or process.poll() is not None:
                continue
            process.send_signal(sig)
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def logs(self) -> dict[str, str]:
        return {name: (self.workdir / name).read_text(encoding="utf-8", errors="replace")
                for name in ("web.log", "scheduler.log") if (self.workdir / name).exists()}
