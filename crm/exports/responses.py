"""The streamed CSV answer the pages and the API share."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Response, current_app, stream_with_context

from crm.domain import Cleaner
from crm.exports.csvstream import FORMS, CsvForm
from crm.exports.services import prepare_export
from crm.extensions import db
from crm.types import utc_now


def form_from(args) -> CsvForm:
    """`?format=csv` (the default) or `?format=excel` (BOM, `;`, decimal comma)."""
    c = Cleaner()
    name = c.choice("format", (args.get("format") or "csv").strip().lower(), tuple(FORMS))
    c.check()
    return FORMS[name]

def csv_download(actor, entity: str, args, *, via: str) -> Response:
    """Check the filters and record the export (committed before the first byte), then
    stream the file batch by batch while the request context stays open."""
    now = utc_now()
    form = form_from(args)
    zone = current_app.config["BABEL_DEFAULT_TIMEZONE"]
    export = prepare_export(actor, entity, args, now, zone=zone, form=form, via=via)
    db.session.commit()
    day = now.astimezone(ZoneInfo(zone)).date().isoformat()
    suffix = "-excel" if form.name == "excel" else ""
    response = Response(stream_with_context(export.chunks(form)), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="fideliza-{entity}-{day}{suffix}.csv"'
    # The file holds personal data: no shared cache keeps it.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
