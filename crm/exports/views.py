"""Pages of crm.exports: the export page and the downloads the list pages link to.

Exports hand over the whole customer base, so they are for supervisors and admins;
agents get a 403 like on the other supervisor pages.
"""
from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_login import current_user

from crm.exports.filters import ENTITIES
from crm.exports.responses import csv_download
from crm.moments.catalog import list_moment_types
from crm.moments.models import CHANNELS
from crm.web import role_required

bp = Blueprint("exports", __name__, url_prefix="/exports")


@bp.get("")
@role_required("supervisor")
def index():
    return render_template("exports/index.html", entities=ENTITIES, channels=CHANNELS,
                           moment_types=list_moment_types(include_inactive=True))


@bp.get("/<entity>.csv")
@role_required("supervisor")
def download(entity: str):
    """The file, streamed; the list pages pass their filters on in the query string."""
    if entity not in ENTITIES:
        abort(404)
    return csv_download(current_user, entity, request.args, via="web")
