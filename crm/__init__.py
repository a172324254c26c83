"""Fideliza CRM: `create_app` builds the web application."""
from __future__ import annotations

import os
import sqlite3

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

from crm import requestlog
from crm.config import load_config


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(load_config(app.instance_path, overrides=config))
    requestlog.init_app(app)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    return app


# SQLite's default: check the WAL into the database file once it holds 1,000 pages.
WAL_AUTOCHECKPOINT = 1000
WAL_SIZE_LIMIT = 64 * 2**20  # bytes kept of the WAL file once it is reset


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    """WAL lets readers go on while one writer writes; the busy timeout makes
    concurrent writers wait their turn instead of failing with "database is locked"."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # A large import leaves a large WAL behind (crm.imports): give the disk back when it
        # is next reset instead of keeping the file at its largest size forever.
        cursor.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
        cursor.close()


@event.listens_for(Pool, "checkin")
def _sqlite_checkpoints_back_on(dbapi_connection, record):
    """A large import commits its batches without SQLite's automatic checkpoints and checks
    the WAL in once at its end (crm.imports.services.batch_settings); they are back on
    before the connection serves anyone else."""
    if record.info.pop("checkpoints_off", False) and isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT}")


def register_extensions(app: Flask) -> None:
    from crm import i18n, security
    from crm.extensions import api, babel, csrf, db, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(app.root_path), "migrations"))
    csrf.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale, timezone_selector=i18n.select_timezone)
    i18n.init_app(app)
    login_manager.init_app(app)
    security.init_app(app)
    from crm.api.schemas import ErrorSchema
    from crm.web import IdConverter

    app.url_map.converters["id"] = IdConverter
    api.ERROR_SCHEMA = ErrorSchema
    api.init_app(app, spec_kwargs={"servers": [{"url": "/"}]})
    api.register_converter(IdConverter, lambda converter: {"type": "integer", "minimum": 1})


def register_blueprints(app: Flask) -> None:
    from crm.admin.views import bp as admin_bp
    from crm.api import register_api
    from crm.auth.views import bp as auth_bp
    from crm.charter_views import bp as charter_bp
    from crm.compensations.views import bp as compensations_bp
    from crm.customers.automation_views import bp as lifecycle_bp
    from crm.customers.views import bp as customers_bp
    from crm.exports.views import bp as exports_bp
    from crm.feeds.views import bp as feeds_bp
    from crm.followups.views import bp as followups_bp
    from crm.health.views import bp as health_bp
    from crm.imports.views import bp as imports_bp
    from crm.insights.views import bp as insights_bp
    from crm.moments.views import bp as moments_bp
    from crm.privacy.views import bp as privacy_bp
    from crm.webhooks.views import bp as webhooks_bp

    for blueprint in (auth_bp, customers_bp, moments_bp, compensations_bp, admin_bp, followups_bp, insights_bp,
                      charter_bp, lifecycle_bp, imports_bp, exports_bp, privacy_bp, feeds_bp,
                      webhooks_bp, health_bp):
        app.register_blueprint(blueprint)
    register_api(app)


def register_errorhandlers(app: Flask) -> None:
    from crm.errors import init_app

    init_app(app)


def register_commands(app: Flask) -> None:
    from crm.commands import crm_cli

    app.cli.add_command(crm_cli)


# Every model module is imported once here so metadata (and Alembic) sees all tables.
from crm import audit  # noqa: E402,F401
from crm.auth import models as _auth_models  # noqa: E402,F401
from crm.calendars import models as _calendar_models  # noqa: E402,F401
from crm.compensations import models as _compensation_models  # noqa: E402,F401
from crm.customers import models as _customer_models  # noqa: E402,F401
from crm.followups import models as _followup_models  # noqa: E402,F401
from crm.health import models as _health_models  # noqa: E402,F401
from crm.insights import models as _insight_models  # noqa: E402,F401
from crm.insights import rollup as _rollup  # noqa: E402,F401  (its tables, and the hook that marks changed days)
from crm.moments import models as _moment_models  # noqa: E402,F401
from crm.webhooks import models as _webhook_models  # noqa: E402,F401
