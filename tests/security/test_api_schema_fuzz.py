"""Schemathesis against the app object (no server): every operation of /api/v1/openapi.json,
called by an admin with a valid token, answers no 5xx and nothing its schema does not document.

Bounded for CI (a few examples per operation); `make security` runs the long version against
a served app with demo data (scripts/security.sh).
"""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

EXAMPLES = 3
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]


def _load_schema():
    """The document as the app serves it. Collected before any fixture exists (schemathesis'
    lazy fixture loader breaks on pytest 9), so read from an app that never touches a database;
    every call then goes to the test's own `app`."""
    from crm import create_app

    spec_app = create_app({"CRM_ENV": "test", "SECRET_KEY": "spec-only", "SQLALCHEMY_DATABASE_URI": "sqlite://",
                           "SERVER_NAME": None})
    return schemathesis.openapi.from_dict(spec_app.test_client().get("/api/v1/openapi.json").json)


schema = _load_schema()
# The short version: explicit examples and a few fuzzed cases per operation; the coverage
# phase (every boundary of every parameter, dozens of cases each) runs in `make security`.
schema.config.phases.update(phases=["examples", "fuzzing"])


@pytest.fixture
def bearer(app, admin, customer, moment_type, api_as):
    """A valid admin token, and a customer and a moment type for the ids to find."""
    return api_as(admin).headers


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented(case, app, bearer):
    case.call_and_validate(app=app, headers=bearer, checks=CHECKS)


BEYOND_AN_ID = [2**31, 2**63]  # past PostgreSQL's INTEGER, past any 64-bit column


def _integer_parameters():
    """(method, path, where, name) of every integer parameter in the document."""
    document = schema.raw_schema
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for parameter in operation.get("parameters", []) + operations.get("parameters", []):
                if parameter.get("schema", {}).get("type") == "integer":
                    yield method, path, parameter["in"], parameter["name"]


def test_integers_beyond_an_id_column_are_refused_not_overflowed(app, bearer, client):
    """Found on PostgreSQL by the fuzzing above: an id past INTEGER reached the database (500)."""
    checked, failures = 0, []
    for method, path, where, name in _integer_parameters():
        for number in BEYOND_AN_ID:
            url, query = path, {}
            if where == "path":
                url = url.replace("{" + name + "}", str(number))
            else:
                query[name] = number
            url = url.replace("{", "").replace("}", "")  # other path parameters: a name, a 404 at worst
            try:  # the test app re-raises what would be a 500
                response = client.open(url, method=method.upper(), query_string=query, headers=bearer, json={})
                response.close()
                status = response.status_code
            except Exception as exc:  # noqa: BLE001
                status = f"{type(exc).__name__}"
                from crm.extensions import db

                with app.app_context():
                    db.session.rollback()
            if not isinstance(status, int) or status >= 500:
                failures.append(f"{method.upper()} {path} {where} {name}={number}: {status}")
            checked += 1
    assert failures == [], "\n".join(failures)
    assert checked >= 60
