"""Fixtures: an app on a fresh database (SQLite file, or a new PostgreSQL database
when CRM_TEST_POSTGRES names a server), clients, users and a logged-in helper."""
from __future__ import annotations

import os
import re
import uuid
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from crm import create_app
from crm.extensions import db as _db

PG_SERVER = os.environ.get("CRM_TEST_POSTGRES")
NOW = datetime(2026, 11, 16, 10, 0, tzinfo=timezone.utc)  # a Monday morning, before any real "now" in the runs
PASSWORD = "correct-horse-9"
# Test users share one cheap hash: the real scheme (scrypt) would cost ~100 ms per user.
# The login itself still goes through werkzeug's check_password_hash.
from werkzeug.security import generate_password_hash  # noqa: E402

FAST_HASHES = {PASSWORD: generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")}


def _fresh_postgres() -> tuple[str, callable]:
    """Create a uniquely named database; fail (never skip) when the server is not there."""
    name = f"fideliza_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        pytest.exit(f"PostgreSQL is required for this run but unreachable at {PG_SERVER}: {exc}", returncode=3)

    def drop():
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return f"{PG_SERVER}/{name}", drop


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    if PG_SERVER:
        url, drop = _fresh_postgres()
        yield url
        drop()
    else:
        yield "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.db")


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory, record_testsuite_property):
    app = create_app({
        "CRM_ENV": "test",
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SERVER_NAME": None,
    })
    with app.app_context():
        _db.create_all()
        record_testsuite_property("database_engine", _db.engine.dialect.name)
    yield app
    with app.app_context():
        _db.engine.dispose()  # let the database be dropped


@pytest.fixture(autouse=True)
def _clean_database(request):
    """Every test starts from empty tables (cheaper than a new schema each time)."""
    yield
    if "app" not in request.fixturenames:
        return
    app = request.getfixturevalue("app")
    with app.app_context():
        _db.session.remove()
        with _db.engine.begin() as conn:
            for table in reversed(_db.metadata.sorted_tables):
                conn.execute(table.delete())


@pytest.fixture
def ctx(app):
    """An app context for calling services directly."""
    with app.test_request_context():
        yield
        _db.session.rollback()


def english_client(app):
    """Most tests read English text, so their browser asks for it; the Spanish
    default is covered in tests/test_i18n.py with a client that asks for nothing."""
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def client(app):
    return english_client(app)


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def now():
    return NOW


# --- factories -------------------------------------------------------------------

@pytest.fixture
def make_user(app):
    from crm.auth.models import User

    counter = iter(range(1, 10**6))

    def make(role="agent", email=None, name=None, password=PASSWORD, locale=None):
        n = next(counter)
        with app.app_context():
            user = User(email=email or f"{role}{n}@example.es", name=name or f"{role.title()} {n}",
                        role=role, locale=locale, created_at=NOW)
            if password not in FAST_HASHES:
                FAST_HASHES[password] = generate_password_hash(password, method="pbkdf2:sha256:1000")
            user.password_hash = FAST_HASHES[password]
            _db.session.add(user)
            _db.session.commit()
            _db.session.refresh(user)
            _db.session.expunge(user)
            return user

    return make


@pytest.fixture
def agent(make_user):
    return make_user("agent", email="agent@example.es", name="Carmen López")


@pytest.fixture
def supervisor(make_user):
    return make_user("supervisor", email="supervisor@example.es", name="Javier Martín")


@pytest.fixture
def admin(make_user):
    return make_user("admin", email="admin@example.es", name="Lucía Rivera")


@pytest.fixture
def moment_type(app, admin):
    """A complaint type with service levels for every tier (first response, resolution)."""
    from crm.auth.models import User
    from crm.moments.catalog import save_moment_type

    with app.app_context():
        actor = _db.session.get(User, admin.id)
        mt = save_moment_type(actor, None, {
            "code": "complaint", "name": "Reclamación", "phase": "interact", "channel": "phone",
            "cost": "18.00", "objective": "Resolve on first contact",
            "service_levels": [
                {"tier": "basic", "first_response_hours": 8, "resolution_hours": 72},
                {"tier": "standard", "first_response_hours": 4, "resolution_hours": 48},
                {"tier": "premium", "first_response_hours": 1, "resolution_hours": 24},
            ],
        }, NOW)
        _db.session.commit()
        return mt.id


@pytest.fixture
def customer(app, agent):
    from crm.auth.models import User
    from crm.customers.services import create_customer

    with app.app_context():
        c = create_customer(_db.session.get(User, agent.id), {
            "name": "María García Núñez", "email": "maria.garcia@example.es", "phone": "+34 612 345 678",
            "company": "Talleres Núñez", "segment": "Particular", "stage": "active",
        }, NOW)
        _db.session.commit()
        return c.id


NOTICE_TEMPLATE = {
    "code": "compensation-notice", "name": "Compensation notice", "kind": "transactional",
    "subject_es": "Te debemos una: {{ compensation }}",
    "body_es": "Hola {{ first_name }}:\n\nComo compensación tienes: {{ compensation }}.\n\n{{ company_name }}",
    "subject_en": "We owe you one: {{ compensation }}",
    "body_en": "Hello {{ first_name }},\n\nAs compensation you have: {{ compensation }}.\n\n{{ company_name }}",
}


@pytest.fixture
def notice_rule(app, admin):
    """The compensation notice: a transactional template sent by a compensation_issued rule."""
    from crm.auth.models import User
    from crm.followups.services import save_rule, save_template

    with app.app_context():
        actor = _db.session.get(User, admin.id)
        template = save_template(actor, NOTICE_TEMPLATE, NOW)
        rule = save_rule(actor, {"name": "Notice", "trigger": "compensation_issued", "template_id": template.id},
                         NOW)
        _db.session.commit()
        return rule.id


# --- logged-in clients -------------------------------------------------------------

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


class Browser:
    """A test client that logs in through the real form and posts with CSRF tokens."""

    def __init__(self, client):
        self.client = client

    def get(self, url, **kw):
        return self.client.get(url, **kw)

    def csrf(self, url="/login"):
        return csrf_from(self.client.get(url).get_data(as_text=True))

    def post(self, url, data=None, csrf_from_url=None, **kw):
        data = dict(data or {})
        data.setdefault("csrf_token", self.csrf(csrf_from_url or "/account"))
        return self.client.post(url, data=data, **kw)

    def login(self, user, password=PASSWORD):
        response = self.client.post("/login", data={
            "email": user.email, "password": password, "csrf_token": self.csrf("/login")})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return self


@pytest.fixture
def browser(client):
    return Browser(client)


@pytest.fixture
def login(app):
    def as_user(user):
        return Browser(english_client(app)).login(user)

    return as_user


class Api:
    def __init__(self, client, token):
        self.client, self.headers = client, {"Authorization": f"Bearer {token}"}

    def __getattr__(self, method):
        def call(url, **kw):
            headers = {**self.headers, **kw.pop("headers", {})}
            return getattr(self.client, method)(url, headers=headers, **kw)

        return call


@pytest.fixture
def api_as(app):
    from crm.auth.models import User
    from crm.auth.services import issue_token

    def make(user):
        with app.app_context():
            _, secret = issue_token(None, _db.session.get(User, user.id), "test", NOW)
            _db.session.commit()
        return Api(english_client(app), secret)

    return make
