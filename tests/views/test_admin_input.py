"""Admin forms refuse empty, overlong, NUL and unknown values with a 400 and write nothing."""
import pytest
from sqlalchemy import func, select, text

from crm.auth.models import Team, User
from crm.extensions import db
from crm.moments.models import MomentType

GOOD_TYPE = {"code": "entrega", "name": "Entrega", "phase": "interact", "channel": "partner", "team_id": "0",
             "owner_role": "agent", "cost": "9.90"}
GOOD_USER = {"name": "Nuevo", "email": "nuevo@example.es", "role": "agent", "team_id": "0", "password": "longenough"}


@pytest.mark.parametrize("url, good, bad, model", [
    ("/admin/moment-types/new", GOOD_TYPE, {"code": ""}, MomentType),
    ("/admin/moment-types/new", GOOD_TYPE, {"code": "Con Espacios"}, MomentType),
    ("/admin/moment-types/new", GOOD_TYPE, {"name": "x" * 121}, MomentType),
    ("/admin/moment-types/new", GOOD_TYPE, {"phase": "dream"}, MomentType),
    ("/admin/moment-types/new", GOOD_TYPE, {"channel": "telepathy"}, MomentType),
    ("/admin/moment-types/new", GOOD_TYPE, {"team_id": "99999"}, MomentType),
    ("/admin/moment-types/new", GOOD_TYPE, {"cost": "-3"}, MomentType),
    ("/admin/moment-types/new", GOOD_TYPE, {"objective": "nul\x00"}, MomentType),
    ("/admin/moment-types/new", GOOD_TYPE, {"sl-standard-first": "abc"}, MomentType),
    ("/admin/moment-types/new", GOOD_TYPE, {"sl-premium-resolution": "1e9"}, MomentType),
    ("/admin/users/new", GOOD_USER, {"email": "nope"}, User),
    ("/admin/users/new", GOOD_USER, {"role": "god"}, User),
    ("/admin/users/new", GOOD_USER, {"password": "short"}, User),
    ("/admin/users/new", GOOD_USER, {"name": "\x00"}, User),
    ("/admin/teams/new", {"name": "Taller", "kind": "internal"}, {"kind": "alien"}, Team),
    ("/admin/teams/new", {"name": "Taller", "kind": "internal"}, {"name": ""}, Team),
    ("/admin/teams/new", {"name": "Taller", "kind": "internal"}, {"description": "d" * 2001}, Team),
])
def test_refused_without_writing(app, login, admin, url, good, bad, model):
    b = login(admin)
    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(model))
    response = b.post(url, {**good, **bad}, csrf_from_url=url)
    assert response.status_code == 400
    assert 'aria-invalid="true"' in response.get_data(as_text=True) or "flash-error" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(model)) == before
    assert b.post(url, good, csrf_from_url=url).status_code == 302  # the same form, fixed, goes through


def test_sqlite_runs_in_wal_with_a_busy_timeout(app):
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            assert db.engine.dialect.name == "postgresql"
            assert db.engine.pool._pre_ping
            return
        with db.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 10000
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
