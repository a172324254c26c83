"""/api/v1/account: the caller's own account, API tokens and calendar feed address.

Everything here is about the person whose token calls it: nobody lists, creates or sees
another person's tokens or feed (someone else's token id answers 404, as on the page).
A token's or a feed's secret is answered once, when it is made, and never stored.
"""
from __future__ import annotations

from flask import after_this_request
from marshmallow import Schema, fields

from crm.api import api_blueprint, api_user, transaction
from crm.api.paging import list_page
from crm.api.schemas import PageQuerySchema, page_schema
from crm.api.schemas.staff import UserSchema
from crm.auth import services
from crm.feeds import services as feeds
from crm.types import utc_now

blp = api_blueprint("api_account", __name__, url_prefix="/api/v1/account",
                    description="The caller's own account: API tokens and the calendar feed")


class TokenSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(load_default="", metadata={"description": "What the token is for (up to 80 characters)"})
    prefix = fields.String(dump_only=True, metadata={"description": "The secret's first characters, to recognise it"})
    created_at = fields.AwareDateTime(dump_only=True)
    last_used_at = fields.AwareDateTime(dump_only=True, allow_none=True)
    revoked_at = fields.AwareDateTime(dump_only=True, allow_none=True)


class NewTokenSchema(TokenSchema):
    secret = fields.String(dump_only=True, metadata={
        "description": "The bearer token itself: shown in this answer only, keep it safe"})


class FeedSchema(Schema):
    active = fields.Boolean(metadata={"description": "Whether the caller has a calendar address"})
    created_at = fields.AwareDateTime(allow_none=True)
    last_used_at = fields.AwareDateTime(allow_none=True, metadata={"description": "Last read by a calendar app"})


class NewFeedSchema(FeedSchema):
    url = fields.String(metadata={"description": "The private address: shown in this answer only"})
    webcal_url = fields.String(metadata={"description": "The same address for calendar apps (webcal://)"})


TokenPageSchema = page_schema(TokenSchema, "TokenPage")


def _no_store():
    """Answers holding a secret must not be kept by any cache."""
    @after_this_request
    def mark(response):
        response.headers["Cache-Control"] = "no-store"
        return response


def _feed_state(feed) -> dict:
    return {"active": feed is not None, "created_at": feed.created_at if feed else None,
            "last_used_at": feed.last_used_at if feed else None}


@blp.get("")
@blp.response(200, UserSchema)
def get_account():
    """Who the token belongs to: name, email, role, team, language."""
    return api_user()


@blp.get("/tokens")
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, TokenPageSchema)
def list_tokens(args):
    """The caller's API tokens, newest first, revoked ones included; never their secrets."""
    return list_page(services.tokens_of(api_user()), args)


@blp.post("/tokens")
@blp.arguments(TokenSchema)
@blp.response(201, NewTokenSchema)
def create_token(data):
    """A new API token for the caller; its `secret` is in this answer only."""
    user = api_user()
    with transaction():
        token, secret = services.issue_token(user, user, data["name"], utc_now())
    _no_store()
    return {**{key: getattr(token, key) for key in ("id", "name", "prefix", "created_at", "last_used_at",
                                                     "revoked_at")}, "secret": secret}


@blp.post("/tokens/<id:token_id>/revoke")
@blp.response(200, TokenSchema)
def revoke_token(token_id):
    """Revoke one of the caller's tokens: it stops working at once (this one too, if it is the
    token calling). Revoking it again changes nothing. Someone else's token answers 404 (to
    admins too it is revoked, as on the page)."""
    with transaction():
        token = services.revoke_token(api_user(), token_id, utc_now())
    return token


@blp.get("/feed")
@blp.response(200, FeedSchema)
def get_feed():
    """Whether the caller has a private calendar address, and when a calendar app last read it;
    the address itself is only shown when it is made."""
    return _feed_state(feeds.feed_of(api_user()))


@blp.post("/feed")
@blp.response(201, NewFeedSchema)
def issue_feed():
    """A new private calendar (iCalendar) address with the caller's open commitments and the
    follow-ups of their customers; an earlier address stops working. Shown in this answer only."""
    from crm.feeds.views import feed_urls

    with transaction():
        feed, secret = feeds.issue_feed(api_user(), utc_now())
        # Read before the commit expires it: a revoke racing in right after must not turn
        # this answer into a 500 (schemathesis with two workers found it).
        state = _feed_state(feed)
    urls = feed_urls(secret)
    _no_store()
    return {**state, "url": urls["http"], "webcal_url": urls["webcal"]}


@blp.post("/feed/revoke")
@blp.response(200, FeedSchema)
def revoke_feed():
    """The caller's calendar address stops working; calendars subscribed to it stop updating.
    Without an address, nothing changes."""
    with transaction():
        feeds.revoke_feed(api_user(), utc_now())
    return _feed_state(None)
