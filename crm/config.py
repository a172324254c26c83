"""Configuration read from CRM_* environment variables.

`CRM_ENV` picks the profile: ``production`` (the default, strict), ``development``
(what `make run` uses) or ``test``. A secret key is mandatory in production so that
a forgotten variable fails loudly instead of signing sessions with a known value.
"""
import os
from pathlib import Path


class ConfigError(RuntimeError):
    pass


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _log_format(env: str) -> str:
    value = os.environ.get("CRM_LOG_FORMAT", "json" if env == "production" else "text").strip().lower()
    if value not in {"json", "text"}:
        raise ConfigError(f"CRM_LOG_FORMAT must be json or text, not {value!r}")
    return value


def _log_level() -> str:
    value = os.environ.get("CRM_LOG_LEVEL", "INFO").strip().upper()
    if value not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise ConfigError(f"CRM_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {value!r}")
    return value


def load_config(instance_path: str, overrides: dict | None = None) -> dict:
    """Settings from the environment, then `overrides` (tests pass theirs here)."""
    overrides = dict(overrides or {})
    env = (overrides.get("CRM_ENV") or os.environ.get("CRM_ENV", "production")).strip().lower()
    if env not in {"production", "development", "test"}:
        raise ConfigError(f"CRM_ENV must be production, development or test, not {env!r}")
    secret = overrides.get("SECRET_KEY") or os.environ.get("CRM_SECRET_KEY")
    if not secret:
        if env == "production":
            raise ConfigError(
                "CRM_SECRET_KEY is required in production; set CRM_ENV=development for local use"
            )
        secret = "dev-only-not-secret"
    default_db = "sqlite:///" + str(Path(instance_path) / "fideliza.db")
    secure_default = env == "production"
    settings = {
        "CRM_ENV": env,
        "SECRET_KEY": secret,
        "SQLALCHEMY_DATABASE_URI": os.environ.get("CRM_DATABASE_URL") or default_db,
        "BABEL_DEFAULT_LOCALE": os.environ.get("CRM_DEFAULT_LOCALE", "es"),
        "BABEL_DEFAULT_TIMEZONE": os.environ.get("CRM_TIMEZONE", "Europe/Madrid"),
        "CRM_BASE_URL": os.environ.get("CRM_BASE_URL", "http://127.0.0.1:5000"),
        "CRM_CURRENCY": os.environ.get("CRM_CURRENCY", "EUR"),
        # The business's name in emails, and where they come from.
        "CRM_COMPANY_NAME": os.environ.get("CRM_COMPANY_NAME", "Fideliza"),
        "CRM_MAIL_FROM": os.environ.get("CRM_MAIL_FROM", "Fideliza <no-reply@fideliza.localhost>"),
        "CRM_MAIL_REPLY_TO": os.environ.get("CRM_MAIL_REPLY_TO") or None,
        # Unset: mail is written as .eml files under instance/mail (dev and demo).
        "CRM_SMTP_URL": os.environ.get("CRM_SMTP_URL") or None,
        "CRM_MAIL_DIR": os.environ.get("CRM_MAIL_DIR") or str(Path(instance_path) / "mail"),
        "CRM_SURVEY_DAYS": int(os.environ.get("CRM_SURVEY_DAYS", "30")),
        # Seconds a webhook receiver has to answer before the delivery is retried later.
        "CRM_WEBHOOK_TIMEOUT": float(os.environ.get("CRM_WEBHOOK_TIMEOUT", "10")),
        "SESSION_COOKIE_SECURE": _env_bool("CRM_SECURE_COOKIES", secure_default),
        "REMEMBER_COOKIE_SECURE": _env_bool("CRM_SECURE_COOKIES", secure_default),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "PERMANENT_SESSION_LIFETIME": 12 * 3600,
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        "WTF_CSRF_TIME_LIMIT": 8 * 3600,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        # flask-smorest: the OpenAPI document is served at /api/v1/openapi.json
        "API_TITLE": "Fideliza CRM API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        # login throttling: failures allowed inside the window before a lock
        "CRM_LOGIN_WINDOW_SECONDS": 15 * 60,
        "CRM_LOGIN_MAX_PER_ACCOUNT": 5,
        "CRM_LOGIN_MAX_PER_ADDRESS": 20,
        # Approving a compensation asks for the password again after this long.
        "CRM_FRESH_LOGIN_SECONDS": 30 * 60,
        # Request log: one line per request, JSON (for log collectors) or text (for people).
        "CRM_LOG_FORMAT": _log_format(env),
        "CRM_LOG_LEVEL": _log_level(),
        # Reverse proxies in front of the app whose X-Forwarded-For/-Proto are believed (0: none).
        "CRM_PROXY_COUNT": int(os.environ.get("CRM_PROXY_COUNT", "0")),
        # /readyz answers 503 when the scheduler's last heartbeat is older than this (seconds).
        "CRM_HEARTBEAT_MAX_AGE": int(os.environ.get("CRM_HEARTBEAT_MAX_AGE", "120")),
        "API_SPEC_OPTIONS": {
            "security": [{"bearerAuth": []}],
            "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
        },
    }
    if env == "test":
        settings.update(TESTING=True, WTF_CSRF_ENABLED=True)
    settings.update(overrides)
    return settings


SUPPORTED_LOCALES = ("es", "en")
