"""Staff accounts, teams, API tokens and login throttling.

Services take the acting user and `now`, flush, and never commit.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import joinedload

from crm import audit
from crm.auth.models import ROLES, TEAM_KINDS, ApiToken, LoginAttempt, Team, User
from crm.config import SUPPORTED_LOCALES
from crm.domain import N_, Cleaner, Conflict, DomainError, Forbidden, NotFound
from crm.extensions import db
from crm.queries import get_or_raise, is_id, taken_by_other

PASSWORD_MIN = 8
PASSWORD_MAX = 200
TOKEN_PREFIX = "fz_"
TOKEN_TOUCH_INTERVAL = timedelta(minutes=5)


class InvalidCredentials(DomainError):
    code = "invalid_credentials"
    status = 401


class LoginThrottled(DomainError):
    code = "throttled"
    status = 429


def normalise_email(cleaner: Cleaner, field: str, value, *, required: bool) -> str | None:
    """A syntactically valid address on a public domain, in lower case."""
    value = cleaner.text(field, value, max_len=254, required=required)
    if not value:
        return value or None
    try:
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        cleaner.fail(field, N_("is not a valid email address"))
        return None


def _clean_user_fields(data: dict, *, creating: bool) -> dict:
    c = Cleaner()
    out = {}
    if creating or "email" in data:
        out["email"] = normalise_email(c, "email", data.get("email"), required=True)
    if creating or "name" in data:
        out["name"] = c.text("name", data.get("name"), max_len=120, required=True)
    if creating or "role" in data:
        out["role"] = c.choice("role", data.get("role"), ROLES)
    if "locale" in data:
        out["locale"] = c.choice("locale", data.get("locale") or None, SUPPORTED_LOCALES, required=False)
    if "team_id" in data:
        team_id = data.get("team_id")
        if team_id in (None, "", 0):
            out["team_id"] = None
        elif not is_id(team_id) or db.session.get(Team, team_id) is None:
            c.fail("team_id", N_("no such team"))
        else:
            out["team_id"] = team_id
    if "active" in data:
        out["active"] = bool(data["active"])
    if creating or data.get("password"):
        password = data.get("password")
        if not isinstance(password, str) or not (PASSWORD_MIN <= len(password) <= PASSWORD_MAX):
            c.fail("password", N_("must be between %(min)d and %(max)d characters"),
                   min=PASSWORD_MIN, max=PASSWORD_MAX)
        elif "\x00" in password:
            c.fail("password", N_("contains characters that are not allowed"))
        else:
            out["password"] = password
    c.check()
    return out


def create_user(actor: User | None, data: dict, now: datetime) -> User:
    """Create a staff account. `actor` is None only for the CLI run by an operator."""
    if actor is not None and not actor.has_role("admin"):
        raise Forbidden(N_("only admins manage staff accounts"))
    fields = _clean_user_fields(data, creating=True)
    if taken_by_other(User, User.email == fields["email"]):
        raise Conflict(N_("a user with that email already exists"), "email")
    password = fields.pop("password")
    user = User(**fields, created_at=now)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    audit.record(actor, "user.created", "user", user.id, now, email=user.email, role=user.role)
    return user


def update_user(actor: User, user: User, data: dict, now: datetime) -> User:
    editing_self = actor.id == user.id
    if not actor.has_role("admin"):
        # People may change their own language and password, nothing else.
        if not editing_self or set(data) - {"locale", "password"}:
            raise Forbidden(N_("only admins manage staff accounts"))
    fields = _clean_user_fields(data, creating=False)
    if "email" in fields and taken_by_other(User, User.email == fields["email"], user):
        raise Conflict(N_("a user with that email already exists"), "email")
    if editing_self and (fields.get("role", user.role) != user.role or fields.get("active") is False):
        raise Forbidden(N_("you cannot demote or deactivate your own account"))
    password = fields.pop("password", None)
    for key, value in fields.items():
        setattr(user, key, value)
    if password:
        user.set_password(password)
    db.session.flush()
    changed = sorted(fields) + (["password"] if password else [])
    audit.record(actor, "user.updated", "user", user.id, now, fields=changed)
    return user


def get_user(user_id: int) -> User:
    return get_or_raise(User, user_id, N_("no such user"))


def active_staff() -> list[User]:
    """Everyone who can own a customer or a contact, for choosers."""
    return list(db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.name)))


def list_users(page: int = 1, per_page: int = 50):
    from crm.pagination import paginate

    return paginate(select(User).options(joinedload(User.team)).order_by(User.name, User.id), page, per_page)


# --- teams -----------------------------------------------------------------

def save_team(actor: User, team: Team | None, data: dict, now: datetime) -> Team:
    if not actor.has_role("admin"):
        raise Forbidden(N_("only admins manage teams"))
    c = Cleaner()
    name = c.text("name", data.get("name"), max_len=120, required=True)
    kind = c.choice("kind", data.get("kind") or "internal", TEAM_KINDS)
    description = c.text("description", data.get("description"), max_len=2000, multiline=True)
    c.check()
    # The exact name too: SQLite's lower() folds ASCII only, so "Í" would slip past to the
    # unique constraint (a 500; found by tests/security/test_naughty_forms.py).
    if taken_by_other(Team, or_(Team.name == name, func.lower(Team.name) == name.lower()), team):
        raise Conflict(N_("a team with that name already exists"), "name")
    if team is None:
        team = Team(created_at=now)
        db.session.add(team)
    team.name, team.kind, team.description = name, kind, description or ""
    db.session.flush()
    audit.record(actor, "team.saved", "team", team.id, now, name=name, kind=kind)
    return team


def get_team(team_id: int) -> Team:
    return get_or_raise(Team, team_id, N_("no such team"))


def list_teams() -> list[Team]:
    return list(db.session.scalars(select(Team).order_by(Team.kind, Team.name)))


# --- API tokens ----------------------------------------------------------------

def hash_token(secret: str) -> str:
    # Tokens carry 256 bits of randomness, so a fast hash is enough: nobody can
    # brute-force them, and verifying one must stay cheap on every API call.
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_token(actor: User | None, user: User, name: str, now: datetime) -> tuple[ApiToken, str]:
    """Create a token for `user`; returns it with the secret, which is never stored."""
    if actor is not None and actor.id != user.id and not actor.has_role("admin"):
        raise Forbidden(N_("you can only create tokens for yourself"))
    c = Cleaner()
    name = c.text("name", name, max_len=80) or ""
    c.check()
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, token_hash=hash_token(secret),
                     prefix=secret[:10], created_at=now)
    db.session.add(token)
    db.session.flush()
    audit.record(actor, "token.created", "user", user.id, now, token_id=token.id)
    return token, secret


def tokens_of(user: User) -> list[ApiToken]:
    return list(db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at.desc())
    ))


def revoke_token(actor: User, token_id: int, now: datetime) -> ApiToken:
    token = db.session.get(ApiToken, token_id)
    # Someone else's token is reported as missing: its existence is not the caller's business.
    if token is None or (token.user_id != actor.id and not actor.has_role("admin")):
        raise NotFound(N_("no such token"))
    if token.revoked_at is None:
        token.revoked_at = now
        db.session.flush()
        audit.record(actor, "token.revoked", "user", token.user_id, now, token_id=token.id)
    return token


def user_for_token(secret: str, now: datetime) -> User | None:
    if not secret or len(secret) > 200 or not secret.startswith(TOKEN_PREFIX):
        return None
    token = db.session.scalar(select(ApiToken).options(joinedload(ApiToken.user))
                              .where(ApiToken.token_hash == hash_token(secret)))
    if token is None or token.revoked_at is not None or not token.user.is_active:
        return None
    # Touch at most every few minutes, so reads do not each cost a write.
    if token.last_used_at is None or now - token.last_used_at > TOKEN_TOUCH_INTERVAL:
        token.last_used_at = now
    return token.user


def prune_login_attempts(now: datetime) -> int:
    """Forget failed logins older than a day: only the last window's count matters."""
    result = db.session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - timedelta(days=1)))
    return result.rowcount or 0


# --- login ----------------------------------------------------------------------

def authenticate(email, password, address: str, now: datetime) -> User:
    """Check credentials, counting failures per account and per address."""
    config = current_app.config
    window_start = now - timedelta(seconds=config["CRM_LOGIN_WINDOW_SECONDS"])
    email = (email or "").strip().lower()[:254]
    address = (address or "unknown")[:64]
    recent = select(func.count()).select_from(LoginAttempt).where(LoginAttempt.at > window_start)
    if (db.session.scalar(recent.where(LoginAttempt.email == email)) >= config["CRM_LOGIN_MAX_PER_ACCOUNT"]
            or db.session.scalar(recent.where(LoginAttempt.address == address))
            >= config["CRM_LOGIN_MAX_PER_ADDRESS"]):
        raise LoginThrottled(N_("Too many failed attempts. Wait a few minutes and try again."))
    user = db.session.scalar(select(User).where(User.email == email)) if email else None
    if (user is None or not isinstance(password, str) or len(password) > PASSWORD_MAX
            or not user.check_password(password) or not user.is_active):
        db.session.add(LoginAttempt(email=email, address=address, at=now))
        db.session.flush()
        raise InvalidCredentials(N_("Wrong email or password."))
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.email == email))
    return user
