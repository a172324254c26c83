"""Pages of crm.feeds: each staff member's private calendar URL, and the feed itself."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, make_response, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm.extensions import db
from crm.feeds import services
from crm.feeds.ical import build_calendar
from crm.forms import ActionForm
from crm.types import utc_now
from crm.web import staff_required

bp = Blueprint("feeds", __name__, url_prefix="/feeds")


def feed_urls(secret: str) -> dict[str, str]:
    """The https:// (or http://) address and its webcal:// twin, which calendar apps subscribe to."""
    url = current_app.config["CRM_BASE_URL"].rstrip("/") + url_for("feeds.calendar", secret=secret)
    return {"http": url, "webcal": "webcal://" + url.split("://", 1)[-1]}


def _page(new_secret: str | None = None, status: int = 200, feed=None):
    response = make_response(render_template(
        "feeds/index.html", feed=feed or services.feed_of(current_user),
        urls=feed_urls(new_secret) if new_secret else None), status)
    if new_secret:
        response.headers["Cache-Control"] = "no-store"  # the secret is on this page, once
    return response


@bp.get("")
@staff_required
def index():
    return _page()


@bp.post("")
@staff_required
def issue():
    """Create the URL, or replace it (the old one stops working); it is shown on this answer only."""
    form = ActionForm()
    if not form.validate_on_submit():
        flash(_("The form expired. Please send it again."), "error")
        return _page(status=400)
    feed, secret = services.issue_feed(current_user, utc_now())
    db.session.commit()
    return _page(secret, feed=feed)


@bp.post("/revoke")
@staff_required
def revoke():
    if not ActionForm().validate_on_submit():
        flash(_("The form expired. Please send it again."), "error")
        return _page(status=400)
    if services.revoke_feed(current_user, utc_now()):
        db.session.commit()
        flash(_("Your calendar address has been revoked; calendars subscribed to it stop updating."), "success")
    return redirect(url_for("feeds.index"))


@bp.get("/<secret>.ics")
def calendar(secret: str):
    """No login: the secret in the address is the key. Unknown, revoked or an inactive
    person's: the same 404."""
    now = utc_now()
    user = services.user_for_secret(secret, now)
    if user is None:
        abort(404)
    if db.session.dirty:
        db.session.commit()  # the last-used mark, in its own short write
    body = build_calendar(user, now)
    response = make_response(body)
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Cache-Control"] = "private, max-age=300"
    response.headers["Content-Disposition"] = 'inline; filename="fideliza.ics"'
    response.headers["X-Robots-Tag"] = "noindex"
    return response
