"""The request's edge: an id for every request, one log line when it ends, trusted proxies.

Every request gets an id: the caller's `X-Request-ID` when it is short and plain (a
load balancer's or another service's, so their logs and ours line up), a new one
otherwise. It is echoed in the `X-Request-ID` response header and written on the one
line logged per request (logger `crm.requests`): method, path, status, duration, user,
request id and client address.

The path is logged without its query string, and the secrets some public URLs carry in
their path (a calendar feed's `/feeds/<secret>.ics`, a survey's `/s/<token>`, an
unsubscribe link's `/u/<token>`) are replaced by `***`: whoever reads the logs must not
be able to open someone's calendar or answer their survey.
"""
from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import datetime, timezone

from flask import Flask, current_app, g, request
from werkzeug.exceptions import MethodNotAllowed
from werkzeug.middleware.proxy_fix import ProxyFix

log = logging.getLogger("crm.requests")

HEADER = "X-Request-ID"
# Letters, digits and . _ : - only, at most 128 characters: nothing that could forge a
# log line, break a header or fill the disk.
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
# Route arguments that are keys, not names: they never reach the log.
SECRET_ARGUMENTS = frozenset({"secret", "token"})
MASK = "***"
MAX_PATH = 512
# In paths that match no route, runs that look like a key (a mistyped feed URL, say).
_KEY_LIKE = re.compile(r"[A-Za-z0-9_-]{20,}")
_PLACEHOLDER = re.compile(r"<(?:[^<>:]+:)?([^<>:]+)>")
_HANDLER_MARK = "_crm_request_handler"


def request_id_from(header: str | None) -> str:
    if header and SAFE_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def loggable_path() -> str:
    """The path as routed, with secret arguments masked; never the query string."""
    rule, arguments = request.url_rule, request.view_args or {}
    if rule is None:
        rule, arguments = _rule_ignoring_method()
    if rule is None:  # no route at all: mask whatever looks like a key
        path = _KEY_LIKE.sub(MASK, request.path)
    elif SECRET_ARGUMENTS & set(rule.arguments):
        path = _PLACEHOLDER.sub(
            lambda m: MASK if m.group(1) in SECRET_ARGUMENTS else str(arguments.get(m.group(1), "")), rule.rule)
    else:
        path = request.path
    return path if len(path) <= MAX_PATH else path[:MAX_PATH] + "…"


def _rule_ignoring_method():
    """A 405 has no url_rule; the path still names a route (and maybe its secret)."""
    error = request.routing_exception
    if not isinstance(error, MethodNotAllowed) or not error.valid_methods:
        return None, {}
    adapter = current_app.url_map.bind_to_environ(request.environ)
    try:
        return adapter.match(method=error.valid_methods[0], return_rule=True)
    except Exception:  # not found, a redirect: fall back to masking what looks like a key
        return None, {}


def _user_id() -> int | None:
    """The user this request already loaded (session or API token); never loads one for logging."""
    user = g.get("_login_user")
    if user is not None and user.is_authenticated:
        return user.id
    api_user = g.get("api_user")
    return api_user.id if api_user is not None else None


def _start() -> None:
    g.request_id = request_id_from(request.headers.get(HEADER))
    g.request_started = time.perf_counter()
    g.request_logged = False  # requests inside one outer app context (tests, scripts) share `g`


def _finish(response):
    response.headers[HEADER] = g.get("request_id") or request_id_from(None)
    _log_request(response.status_code)
    return response


def _teardown(error) -> None:
    if not g.get("request_logged") and "request_id" in g:  # an exception no handler turned into a response
        _log_request(500)


def _log_request(status: int) -> None:
    g.request_logged = True
    started = g.get("request_started")
    fields = {
        "request_id": g.get("request_id"),
        "method": request.method,
        "path": loggable_path(),
        "status": status,
        "duration_ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
        "user_id": _user_id(),
        "remote_addr": request.remote_addr,
    }
    # A 503 is an answer (not ready, try another instance); a 500 is a bug.
    level = logging.ERROR if status == 500 else logging.WARNING if status > 500 else logging.INFO
    log.log(level, "request", extra={"fields": fields})


class JsonFormatter(logging.Formatter):
    """One JSON object per line: what log collectors index."""

    def format(self, record: logging.LogRecord) -> str:
        data = {"ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
                "level": record.levelname.lower(), "logger": record.name, "msg": record.getMessage()}
        data.update(getattr(record, "fields", {}))
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """One readable line per request, for a developer's terminal."""

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", None)
        if not fields:
            return super().format(record)
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        # repr-style escapes: a path with a newline in it cannot start a fake log line.
        path = fields["path"].encode("unicode_escape").decode("ascii")
        user = fields["user_id"] if fields["user_id"] is not None else "-"
        return (f"{when} {record.levelname} {fields['method']} {path} {fields['status']} "
                f"{fields['duration_ms']}ms user={user} id={fields['request_id']} from={fields['remote_addr']}")


FORMATTERS = {"json": JsonFormatter, "text": TextFormatter}


def configure_logger(fmt: str, level: str, stream=None) -> logging.Handler:
    """Send `crm.requests` to `stream` (stderr: gunicorn and systemd collect it) in `fmt`.
    Configuring again (another app in the same process) replaces the handler, never adds one."""
    for old in [h for h in log.handlers if getattr(h, _HANDLER_MARK, False)]:
        log.removeHandler(old)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(FORMATTERS[fmt]())
    setattr(handler, _HANDLER_MARK, True)
    log.addHandler(handler)
    log.setLevel(level)
    log.propagate = False  # once is enough: not again through the root logger's handlers
    return handler


def init_app(app: Flask) -> None:
    # First in, so that an earlier hook answering on its own still has an id; after_request
    # hooks run in reverse, so this one runs last and logs the final status.
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_finish)
    app.teardown_request(_teardown)
    if app.config.get("TESTING"):
        # Tests read the records through pytest's caplog, which listens on the root logger.
        for handler in [h for h in log.handlers if getattr(h, _HANDLER_MARK, False)]:
            log.removeHandler(handler)
        log.setLevel(app.config["CRM_LOG_LEVEL"])
        log.propagate = True
    else:
        configure_logger(app.config["CRM_LOG_FORMAT"], app.config["CRM_LOG_LEVEL"])
    hops = app.config.get("CRM_PROXY_COUNT", 0)
    if hops:
        # Only the client address and the scheme: a proxy that does not set X-Forwarded-Host
        # would pass the client's own value through, so the Host header is left alone.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0, x_port=0, x_prefix=0)
