"""`GET /healthz` (the process answers) and `GET /readyz` (it can serve: database, schema,
scheduler). Public, JSON, no session, nothing about the installation in the answer."""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, current_app, jsonify

from crm.health.services import Migrations, readiness
from crm.types import utc_now

bp = Blueprint("health", __name__)


@bp.record_once
def _remember_migrations(state) -> None:
    directory = state.app.extensions["migrate"].directory
    state.app.extensions["crm.health.migrations"] = Migrations.from_directory(directory)


def _answer(body: dict, status: int):
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/healthz")
def healthz():
    """Liveness: no database, no session; a 200 means the worker answers."""
    return _answer({"status": "ok"}, 200)


@bp.get("/readyz")
def readyz():
    checks = readiness(utc_now(), current_app.extensions["crm.health.migrations"],
                       timedelta(seconds=current_app.config["CRM_HEARTBEAT_MAX_AGE"]))
    ready = all(check.ok for check in checks.values())
    return _answer({"status": "ready" if ready else "not ready",
                    "checks": {name: check.as_dict() for name, check in checks.items()}},
                   200 if ready else 503)
