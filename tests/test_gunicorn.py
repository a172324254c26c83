"""The production shape: gunicorn.conf.py reads its environment, and a real gunicorn with
two workers serves /healthz, /readyz and the JSON request log."""
from __future__ import annotations

import json
import os
import runpy
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from gunicorn.config import Config

ROOT = Path(__file__).resolve().parent.parent
CONF = str(ROOT / "gunicorn.conf.py")
ENV_NAMES = ("CRM_BIND", "CRM_WEB_WORKERS", "CRM_WEB_THREADS", "CRM_WEB_TIMEOUT", "CRM_WEB_MAX_REQUESTS",
             "CRM_WEB_PRELOAD", "CRM_FORWARDED_ALLOW_IPS", "CRM_LOG_LEVEL")


def _settings(monkeypatch, **env) -> dict:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    namespace = runpy.run_path(CONF)
    return {k: v for k, v in namespace.items() if not k.startswith("_") and k in Config().settings}


def test_defaults_are_sane_and_gunicorn_accepts_every_setting(monkeypatch):
    settings = _settings(monkeypatch)
    assert settings["bind"] == ["127.0.0.1:8000"]
    assert settings["workers"] == 2 * os.cpu_count() + 1 and settings["threads"] == 4
    assert settings["worker_class"] == "gthread"
    assert settings["preload_app"] is False
    assert settings["accesslog"] is None  # the app's own request log, with secrets masked
    assert settings["max_requests"] == 10000 and settings["max_requests_jitter"] == 1000
    assert settings["timeout"] == 60 and settings["graceful_timeout"] == 30
    assert settings["forwarded_allow_ips"] == "127.0.0.1,::1"
    config = Config()
    for name, value in settings.items():
        config.set(name, value)  # validates each value the way `gunicorn -c` does
    assert config.worker_class_str == "gthread" and config.workers == 2 * os.cpu_count() + 1


def test_the_environment_overrides_the_defaults(monkeypatch):
    settings = _settings(monkeypatch, CRM_BIND="0.0.0.0:9000, unix:/run/fideliza.sock", CRM_WEB_WORKERS="3",
                         CRM_WEB_THREADS="8", CRM_WEB_TIMEOUT="120", CRM_WEB_MAX_REQUESTS="0",
                         CRM_WEB_PRELOAD="yes", CRM_FORWARDED_ALLOW_IPS="10.0.0.0/8", CRM_LOG_LEVEL="WARNING")
    assert settings["bind"] == ["0.0.0.0:9000", "unix:/run/fideliza.sock"]
    assert (settings["workers"], settings["threads"], settings["timeout"]) == (3, 8, 120)
    assert (settings["max_requests"], settings["max_requests_jitter"]) == (0, 0)
    assert settings["preload_app"] is True and settings["forwarded_allow_ips"] == "10.0.0.0/8"
    assert settings["loglevel"] == "warning"


def test_loading_the_app_starts_no_scheduler(tmp_path):
    """What every gunicorn worker does (import wsgi) must not start, or even import, APScheduler."""
    env = {**os.environ, "CRM_ENV": "production", "CRM_SECRET_KEY": "x",
           "CRM_DATABASE_URL": "sqlite:///" + str(tmp_path / "x.db")}
    code = ("import sys, threading, wsgi; "
            "assert not [m for m in sys.modules if m.startswith('apscheduler')], 'apscheduler imported'; "
            "assert 'crm.scheduler' not in sys.modules; print(threading.active_count())")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "1"  # no background thread either


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, headers: dict | None = None, timeout: float = 5):
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_a_real_gunicorn_with_two_workers_serves_the_health_checks(database_url, tmp_path):
    port = _free_port()
    env = {**os.environ, "CRM_ENV": "production", "CRM_SECRET_KEY": "gunicorn-test", "CRM_DATABASE_URL": database_url,
           "CRM_BIND": f"127.0.0.1:{port}", "CRM_WEB_WORKERS": "2", "CRM_WEB_THREADS": "2", "CRM_LOG_LEVEL": "INFO",
           "CRM_LOG_FORMAT": "json", "CRM_MAIL_DIR": str(tmp_path / "mail")}
    stderr = open(tmp_path / "gunicorn.err", "w+")
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", CONF, "wsgi:app"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=stderr)
    base = f"http://127.0.0.1:{port}"
    try:
        # The master listens at once; a request waits in the backlog while the workers load the app.
        deadline = time.monotonic() + 30
        status, attempt = None, 0
        while time.monotonic() < deadline and server.poll() is None:
            attempt += 1
            try:
                status, headers, body = _get(base + "/healthz", {"X-Request-ID": f"live-probe-{attempt}"}, 20)
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        assert status == 200, open(tmp_path / "gunicorn.err").read()[-3000:]
        probe_id = f"live-probe-{attempt}"
        assert json.loads(body) == {"status": "ok"} and headers["X-Request-ID"] == probe_id

        status, _, body = _get(base + "/readyz")  # this database was never migrated, nor does a scheduler beat
        assert status == 503
        assert json.loads(body)["checks"]["migrations"] == {"ok": False, "state": "behind"}
        assert json.loads(body)["checks"]["database"] == {"ok": True, "state": "reachable"}
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    stderr.seek(0)
    output = stderr.read()
    stderr.close()
    assert output.count("Booting worker with pid") >= 2, output[-3000:]
    probes = [json.loads(line) for line in output.splitlines()
              if line.startswith("{") and f'"{probe_id}"' in line]
    assert len(probes) == 1 and probes[0]["path"] == "/healthz" and probes[0]["status"] == 200
    assert '"path": "/readyz", "status": 503' in output
