"""Request ids and the one log line per request: JSON fields, no query strings, no secrets."""
from __future__ import annotations

import io
import json
import logging
import re

import pytest

from crm import create_app, requestlog
from crm.config import ConfigError, load_config
from crm.extensions import db

LOGGER = "crm.requests"


@pytest.fixture
def lines(caplog):
    """The request log as the production handler would write it: JSON lines."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    formatter = requestlog.JsonFormatter()

    def read():
        return [json.loads(formatter.format(r)) for r in caplog.records if r.name == LOGGER]

    return read


def test_a_request_without_an_id_gets_a_new_one(client, lines):
    first, second = client.get("/login"), client.get("/login")
    ids = [first.headers["X-Request-ID"], second.headers["X-Request-ID"]]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids) and ids[0] != ids[1]
    assert [line["request_id"] for line in lines()] == ids


def test_a_sane_incoming_id_is_kept_and_echoed(client, lines):
    for sane in ("lb-1234.abc:9", "3f2a1c9e-0d4b-4c1e-9a7b-2d5e6f708192", "A" * 128):
        response = client.get("/healthz", headers={"X-Request-ID": sane})
        assert response.headers["X-Request-ID"] == sane
    assert [line["request_id"] for line in lines()][-1] == "A" * 128


@pytest.mark.parametrize("hostile", ["A" * 129, "", "a b", "x\" y", "<script>", "id;rm -rf", "ñandú",
                                     "-starts-with-dash", "a/../b", "${jndi:ldap://x}"])
def test_a_hostile_incoming_id_is_replaced(client, lines, hostile):
    response = client.get("/healthz", headers={"X-Request-ID": hostile})
    generated = response.headers["X-Request-ID"]
    assert generated != hostile and re.fullmatch(r"[0-9a-f]{32}", generated)
    assert lines()[-1]["request_id"] == generated


def test_one_json_line_per_request_with_its_fields(client, lines):
    response = client.get("/customers?q=garcia&page=2", headers={"X-Request-ID": "req-1"})
    assert response.status_code == 302  # to the login page
    (line,) = lines()
    assert set(line) == {"ts", "level", "logger", "msg", "request_id", "method", "path", "status", "duration_ms",
                         "user_id", "remote_addr"}
    assert (line["msg"], line["logger"], line["level"]) == ("request", LOGGER, "info")
    assert (line["method"], line["path"], line["status"]) == ("GET", "/customers", 302)
    assert line["request_id"] == "req-1" and line["user_id"] is None and line["remote_addr"] == "127.0.0.1"
    assert isinstance(line["duration_ms"], float) and 0 <= line["duration_ms"] < 10_000
    assert "garcia" not in json.dumps(line)  # never the query string


def test_the_logged_in_user_is_named_by_id(login, agent, api_as, lines):
    b = login(agent)
    assert b.get("/customers").status_code == 200
    assert lines()[-1]["user_id"] == agent.id and lines()[-1]["path"] == "/customers"
    assert api_as(agent).get("/api/v1/customers").status_code == 200
    assert lines()[-1]["user_id"] == agent.id


def test_errors_are_logged_with_their_status(client, lines):
    client.get("/no-such-page")
    client.post("/healthz")
    assert [(line["status"], line["level"]) for line in lines()] == [(404, "info"), (405, "info")]


@pytest.fixture
def feed_secret(app, agent, now):
    from crm.auth.models import User
    from crm.feeds.services import issue_feed

    with app.app_context():
        _, secret = issue_feed(db.session.get(User, agent.id), now)
        db.session.commit()
    return secret


def test_a_calendar_feed_secret_never_reaches_the_log(app, client, caplog, lines, feed_secret, monkeypatch):
    caplog.set_level(logging.DEBUG)
    assert client.get(f"/feeds/{feed_secret}.ics").status_code == 200
    assert client.post(f"/feeds/{feed_secret}.ics").status_code == 405
    assert client.get(f"/feeds/{feed_secret}.ics/more").status_code == 404
    assert client.get(f"/feeds/{feed_secret}.ics?token={feed_secret}").status_code == 200
    paths = [line["path"] for line in lines()]
    assert paths == ["/feeds/***.ics", "/feeds/***.ics", "/feeds/***.ics/more", "/feeds/***.ics"]

    # A crash inside the feed: the request line and the error's own log line both mask it.
    from crm.feeds import views

    def crash(*args):
        raise RuntimeError("boom")

    monkeypatch.setattr(views.services, "user_for_secret", crash)
    with pytest.raises(RuntimeError):  # tests let unexpected errors through; production answers 500
        client.get(f"/feeds/{feed_secret}.ics")
    assert lines()[-1]["status"] == 500 and lines()[-1]["path"] == "/feeds/***.ics"
    from crm.errors import handle_unexpected

    with app.test_request_context(f"/feeds/{feed_secret}.ics"):
        try:
            raise RuntimeError("boom")
        except RuntimeError as exc:
            assert handle_unexpected(exc).status_code == 500
    everything = caplog.text + "".join(json.dumps(line) for line in lines())
    assert "unhandled error on GET /feeds/***.ics" in caplog.text
    assert feed_secret not in everything


def test_survey_and_unsubscribe_tokens_are_masked(client, lines):
    token = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LWtleQ.abcdefghijklmnop"
    client.get(f"/s/{token}")
    client.get(f"/u/{token}")
    client.put(f"/s/{token}")
    assert [line["path"] for line in lines()] == ["/s/***", "/u/***", "/s/***"]
    assert token not in json.dumps(lines())


def test_every_route_argument_that_carries_a_key_is_masked(app):
    """A new public route with a secret in its path must be added to SECRET_ARGUMENTS."""
    for rule in app.url_map.iter_rules():
        for argument in rule.arguments:
            if re.search(r"secret|token|key", argument) and not argument.endswith("_id"):
                assert argument in requestlog.SECRET_ARGUMENTS, (rule.rule, argument)


def test_the_text_format_is_one_line_even_with_a_newline_in_the_path():
    record = logging.LogRecord(LOGGER, logging.INFO, __file__, 1, "request", None, None)
    record.fields = {"request_id": "r1", "method": "GET", "path": "/x\nINFO forged", "status": 404,
                     "duration_ms": 1.5, "user_id": None, "remote_addr": "127.0.0.1"}
    text = requestlog.TextFormatter().format(record)
    assert "\n" not in text and "GET /x\\nINFO forged 404 1.5ms user=- id=r1 from=127.0.0.1" in text


@pytest.fixture
def restore_logger():
    logger = logging.getLogger(LOGGER)
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield logger
    logger.handlers[:], logger.level, logger.propagate = saved[0], saved[1], saved[2]


def test_the_handler_writes_json_lines_and_is_installed_once(client, restore_logger):
    stream = io.StringIO()
    requestlog.configure_logger("json", "INFO", stream)
    requestlog.configure_logger("json", "INFO", stream)  # a second app in the same process
    assert len([h for h in restore_logger.handlers if getattr(h, requestlog._HANDLER_MARK, False)]) == 1
    client.get("/healthz?probe=1", headers={"X-Request-ID": "probe-7"})
    (line,) = stream.getvalue().splitlines()
    data = json.loads(line)
    assert (data["path"], data["status"], data["request_id"]) == ("/healthz", 200, "probe-7")


def test_a_warning_level_keeps_only_failures(client, restore_logger):
    stream = io.StringIO()
    requestlog.configure_logger("text", "WARNING", stream)
    client.get("/healthz")
    client.get("/readyz")  # not ready in the test database: 503
    (line,) = stream.getvalue().splitlines()
    assert " WARNING GET /readyz 503 " in line


def test_the_client_address_comes_from_the_proxy_only_when_configured(database_url, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    for count, expected in ((0, "127.0.0.1"), (1, "203.0.113.9")):
        app = create_app({"CRM_ENV": "test", "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": database_url,
                          "CRM_PROXY_COUNT": count})
        response = app.test_client().get("/healthz", headers={"X-Forwarded-For": "203.0.113.9",
                                                               "X-Forwarded-Proto": "https"})
        assert response.status_code == 200
        assert caplog.records[-1].fields["remote_addr"] == expected
        with app.app_context():
            db.engine.dispose()


def test_log_settings_follow_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("CRM_LOG_FORMAT", raising=False)
    monkeypatch.delenv("CRM_LOG_LEVEL", raising=False)
    assert load_config(str(tmp_path), {"CRM_ENV": "production", "SECRET_KEY": "x"})["CRM_LOG_FORMAT"] == "json"
    assert load_config(str(tmp_path), {"CRM_ENV": "development"})["CRM_LOG_FORMAT"] == "text"
    assert load_config(str(tmp_path), {"CRM_ENV": "development"})["CRM_LOG_LEVEL"] == "INFO"
    monkeypatch.setenv("CRM_LOG_FORMAT", "JSON")
    monkeypatch.setenv("CRM_LOG_LEVEL", "warning")
    settings = load_config(str(tmp_path), {"CRM_ENV": "development"})
    assert (settings["CRM_LOG_FORMAT"], settings["CRM_LOG_LEVEL"]) == ("json", "WARNING")
    monkeypatch.setenv("CRM_LOG_FORMAT", "xml")
    with pytest.raises(ConfigError, match="CRM_LOG_FORMAT"):
        load_config(str(tmp_path), {"CRM_ENV": "development"})
    monkeypatch.setenv("CRM_LOG_FORMAT", "text")
    monkeypatch.setenv("CRM_LOG_LEVEL", "loud")
    with pytest.raises(ConfigError, match="CRM_LOG_LEVEL"):
        load_config(str(tmp_path), {"CRM_ENV": "development"})
