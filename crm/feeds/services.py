"""Calendar feeds: create, regenerate and revoke a staff member's private URL, and find
whose feed a secret opens. Services flush and never commit."""
from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from crm import audit
from crm.auth.models import User

# 256 random bits, like API tokens: the same fast hash, and the lookup by hash compares no
# secret byte by byte.
from crm.auth.services import hash_token
from crm.extensions import db
from crm.feeds.models import CalendarFeed

# secrets.token_urlsafe(32): 43 characters of the URL-safe alphabet. Anything else is not ours.
SECRET_SHAPE = re.compile(r"[A-Za-z0-9_-]{20,100}")
# Calendar apps poll every few minutes: note the use at most this often, not on every poll.
TOUCH_INTERVAL = timedelta(minutes=15)


def feed_of(user: User) -> CalendarFeed | None:
    return db.session.scalar(select(CalendarFeed).where(CalendarFeed.user_id == user.id))


def issue_feed(user: User, now: datetime) -> tuple[CalendarFeed, str]:
    """A new secret URL for `user`; an earlier one stops working. Returns the secret, never stored."""
    secret = secrets.token_urlsafe(32)
    feed = feed_of(user)
    regenerated = feed is not None
    if feed is None:
        feed = CalendarFeed(user_id=user.id)
        db.session.add(feed)
    feed.token_hash, feed.created_at, feed.last_used_at = hash_token(secret), now, None
    db.session.flush()
    audit.record(user, "calendar_feed.regenerated" if regenerated else "calendar_feed.created", "user", user.id,
                 now)
    return feed, secret


def revoke_feed(user: User, now: datetime) -> bool:
    """The URL stops working; False when there was none."""
    feed = feed_of(user)
    if feed is None:
        return False
    db.session.delete(feed)
    db.session.flush()
    audit.record(user, "calendar_feed.revoked", "user", user.id, now)
    return True


def user_for_secret(secret, now: datetime) -> User | None:
    """The active staff member whose feed `secret` opens, or None (unknown, revoked, inactive)."""
    if not isinstance(secret, str) or not SECRET_SHAPE.fullmatch(secret):
        return None
    feed = db.session.scalar(select(CalendarFeed).options(joinedload(CalendarFeed.user))
                             .where(CalendarFeed.token_hash == hash_token(secret)))
    if feed is None or not feed.user.is_active:
        return None
    if feed.last_used_at is None or now - feed.last_used_at > TOUCH_INTERVAL:
        feed.last_used_at = now
    return feed.user
