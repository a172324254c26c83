"""/api/v1/users and /api/v1/teams: staff accounts and the teams they work in, for admins only."""
from __future__ import annotations

from crm.api import api_blueprint, api_user, require_role, transaction
from crm.api.paging import list_page, page_body
from crm.api.schemas import PageQuerySchema, page_schema
from crm.api.schemas.staff import TeamSchema, UserSchema, UserUpdateSchema
from crm.auth import services
from crm.extensions import db
from crm.types import utc_now

blp = api_blueprint("api_users", __name__, url_prefix="/api/v1", description="Staff accounts and teams (admins)")
UserPageSchema = page_schema(UserSchema, "UserPage")
TeamPageSchema = page_schema(TeamSchema, "TeamPage")


@blp.get("/users")
@require_role("admin")
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, UserPageSchema)
def list_users(args):
    """Every staff account by name (admins)."""
    return page_body(services.list_users(args["page"], args["per_page"]))


@blp.post("/users")
@require_role("admin")
@blp.arguments(UserSchema)
@blp.response(201, UserSchema)
def create_user(data):
    """Create a staff account (admins). Refused with 409 when the email is taken."""
    user = services.create_user(api_user(), data, utc_now())
    db.session.commit()
    return user


@blp.get("/users/<id:user_id>")
@require_role("admin")
@blp.response(200, UserSchema)
def get_user(user_id):
    """One staff account (admins)."""
    return services.get_user(user_id)


@blp.patch("/users/<id:user_id>")
@require_role("admin")
@blp.arguments(UserUpdateSchema)
@blp.response(200, UserSchema)
def update_user(data, user_id):
    """Change a staff account (admins): name, email, role, team, language, active, password.
    Only the fields sent change. Refused with 409 when the email is taken, 403 when admins
    would demote or deactivate themselves."""
    user = services.get_user(user_id)
    with transaction():
        services.update_user(api_user(), user, data, utc_now())
    return user


@blp.get("/teams")
@require_role("admin")
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, TeamPageSchema)
def list_teams(args):
    """Internal teams, then external partners, by name (admins)."""
    return list_page(services.list_teams(), args)


@blp.post("/teams")
@require_role("admin")
@blp.arguments(TeamSchema)
@blp.response(201, TeamSchema)
def create_team(data):
    """Add a team or an external partner (admins). Refused with 409 when the name is taken."""
    with transaction():
        team = services.save_team(api_user(), None, data, utc_now())
    return team


@blp.put("/teams/<id:team_id>")
@require_role("admin")
@blp.arguments(TeamSchema)
@blp.response(200, TeamSchema)
def update_team(data, team_id):
    """Replace a team's name, kind and description (admins)."""
    team = services.get_team(team_id)
    with transaction():
        services.save_team(api_user(), team, data, utc_now())
    return team
