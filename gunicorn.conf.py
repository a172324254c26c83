"""gunicorn settings for Fideliza: `gunicorn -c gunicorn.conf.py wsgi:app`.

Read from the environment (defaults in brackets):
  CRM_BIND                 address to listen on [127.0.0.1:8000]; 0.0.0.0:8000 behind a remote load balancer
  CRM_WEB_WORKERS          worker processes [2 x CPU cores + 1]
  CRM_WEB_THREADS          threads per worker [4]
  CRM_WEB_TIMEOUT          seconds a worker may stay silent before it is killed and replaced [60]
  CRM_WEB_MAX_REQUESTS     requests before a worker is replaced, 0 never [10000] (plus up to 10% jitter)
  CRM_WEB_PRELOAD          load the app once in the master before forking [off]
  CRM_FORWARDED_ALLOW_IPS  proxies whose X-Forwarded-Proto gunicorn believes [127.0.0.1,::1]
  CRM_LOG_LEVEL            gunicorn's own log level, shared with the app's request log [INFO]

The scheduler never runs here: nothing in this file or in `create_app` starts it (every
worker would run every job). It is its own process: `flask --app wsgi crm scheduler`.
"""
import multiprocessing
import os


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    return raw in {"1", "true", "yes", "on"} if raw else default


wsgi_app = "wsgi:app"
proc_name = "fideliza"
bind = [address.strip() for address in os.environ.get("CRM_BIND", "127.0.0.1:8000").split(",") if address.strip()]

# Threads: a streamed export or a PDF report may take longer than `timeout`; a threaded
# worker keeps telling the master it is alive meanwhile (a sync worker would be killed),
# and a request waiting on the database does not hold a whole process.
worker_class = "gthread"
workers = _int("CRM_WEB_WORKERS", 2 * multiprocessing.cpu_count() + 1)
threads = _int("CRM_WEB_THREADS", 4)
timeout = _int("CRM_WEB_TIMEOUT", 60)
graceful_timeout = 30  # on SIGTERM or SIGHUP, requests under way get this long to finish
keepalive = 5
# Replace workers now and then, at different moments, so that slow leaks never add up.
max_requests = _int("CRM_WEB_MAX_REQUESTS", 10000)
max_requests_jitter = max_requests // 10

# Off by default: every worker builds its own app, so no database connection or pool is
# ever shared across fork, and `kill -HUP <master>` loads new code after an upgrade.
# On, workers start faster and share memory; post_fork below then drops the pool the
# master may have opened.
preload_app = _bool("CRM_WEB_PRELOAD", False)

# Behind a proxy: gunicorn sets the scheme from X-Forwarded-Proto only for these peers.
# The app's own ProxyFix (CRM_PROXY_COUNT) is what gives it the client's address.
forwarded_allow_ips = os.environ.get("CRM_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# The app logs each request itself (crm.requests: request id, user, masked secrets);
# gunicorn's access log would repeat it with calendar feed secrets in the path.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("CRM_LOG_LEVEL", "info").strip().lower()

# The workers' heartbeat files on tmpfs: a slow or full disk must not get workers killed.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# gunicorn's admin socket has one fixed path per user: several servers on one host
# (tests, a soak run) would fight over it, and nothing here uses it.
control_socket_disable = True


def post_fork(server, worker):
    if not server.cfg.preload_app:
        return
    from crm.extensions import db

    with server.app.wsgi().app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)  # the master's connections stay the master's
