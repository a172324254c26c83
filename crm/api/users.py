"""/api/v1/users: staff accounts, for admins only."""
from __future__ import annotations

from crm.api import api_blueprint, api_user, require_role
from crm.api.customers import page_body
from crm.api.schemas import PageQuerySchema, UserSchema, page_schema
from crm.auth import services
from crm.extensions import db
from crm.types import utc_now

blp = api_blueprint("api_users", __name__, url_prefix="/api/v1/users", description="Staff accounts (admins)")
UserPageSchema = page_schema(UserSchema, "UserPage")


@blp.get("")
@require_role("admin")
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, UserPageSchema)
def list_users(args):
    return page_body(services.list_users(args["page"], args["per_page"]))


@blp.post("")
@require_role("admin")
@blp.arguments(UserSchema)
@blp.response(201, UserSchema)
def create_user(data):
    user = services.create_user(api_user(), data, utc_now())
    db.session.commit()
    return user
