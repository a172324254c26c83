"""When the database goes away (restart, failover), requests get a 503 to retry, never a 500 after the fact.

Run by tests/test_database_loss.py in a child pytest process: these tests build a second,
production-like app (TESTING off), and the extensions it initialises are shared by every
app in a process, so they stay out of the suite's worker processes.
"""
from __future__ import annotations

import logging
import sqlite3

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from crm import create_app
from crm.errors import database_unavailable
from crm.extensions import db
from tests.conftest import Browser


def test_what_counts_as_the_database_being_away():
    locked = OperationalError("UPDATE …", {}, sqlite3.OperationalError("database is locked"))
    missing = OperationalError("SELECT …", {}, sqlite3.OperationalError("no such table: customers"))
    lost = OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))
    invalidated = ProgrammingError("SELECT 1", {}, Exception("x"), connection_invalidated=True)
    assert database_unavailable(locked) and database_unavailable(lost) and database_unavailable(invalidated)
    assert not database_unavailable(missing)  # a bug, not an outage
    assert not database_unavailable(ValueError("nope"))


@pytest.fixture
def production_like(database_url):
    """The app as it runs for people: unexpected errors become pages, not test failures."""
    # Outside TESTING the app installs its request log handler: put the logger back after.
    logger = logging.getLogger("crm.requests")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    app = create_app({"CRM_ENV": "test", "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": database_url,
                      "TESTING": False, "SERVER_NAME": None})

    @app.get("/_probe/lost-after-answer")
    def lost_after_answer():
        db.session.execute(select(1))  # the request's transaction holds a connection…
        db.session.connection().connection.dbapi_connection.close()  # …which the database then drops
        return "answered"

    @app.get("/_probe/lost-before-answer")
    def lost_before_answer():
        db.session.execute(select(1))
        db.session.connection().connection.dbapi_connection.close()
        db.session.execute(text("SELECT 1"))  # the next query finds the connection gone
        return "never"

    yield app
    with app.app_context():
        db.engine.dispose()
    logger.handlers[:], logger.level, logger.propagate = saved


def test_an_answered_request_stays_answered_when_its_connection_dies(production_like):
    response = production_like.test_client().get("/_probe/lost-after-answer")
    assert response.status_code == 200 and response.get_data(as_text=True) == "answered"
    # And the next request gets a working connection.
    with production_like.app_context():
        assert db.session.scalar(select(1)) == 1


def test_a_request_that_loses_the_database_gets_503_with_retry_after(production_like):
    response = production_like.test_client().get("/_probe/lost-before-answer",
                                                 headers={"Accept-Language": "en"})
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert "briefly unavailable" in response.get_data(as_text=True)


def test_a_logged_in_person_gets_the_503_page_while_the_database_is_down(production_like, make_user, monkeypatch):
    """Loading the person is the first query of most pages; the error page must not load them again."""
    user = make_user("agent")

    def database_down(_user_id):
        raise OperationalError("SELECT users …", {}, Exception("connection refused"))

    client = Browser(production_like.test_client()).login(user).client
    # The login manager is one instance for every app in the process: monkeypatch puts it back.
    monkeypatch.setattr(production_like.login_manager, "_user_callback", database_down)
    response = client.get("/customers", headers={"Accept-Language": "en"})
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert "briefly unavailable" in response.get_data(as_text=True)
