"""GET /insights/report.pdf?week=YYYY-MM-DD: a week's report as a PDF (supervisors)."""
from __future__ import annotations

from io import BytesIO

from flask import current_app, request, send_file
from flask_babel import get_locale

from crm.insights import report
from crm.insights.views import bp
from crm.types import utc_now
from crm.web import role_required


@bp.get("/report.pdf")
@role_required("supervisor")
def weekly_report():
    """Any day of the week in `week` (default: the last complete week); a bad or future
    date is refused with 422, a conversion that runs out of time or memory with 503."""
    zone = current_app.config["BABEL_DEFAULT_TIMEZONE"]
    now = utc_now()
    week_start = report.week_of(request.args.get("week"), zone, now)  # ValidationFailed: 422
    language = str(get_locale() or report.default_language())
    if language not in report.LANGUAGES:
        language = report.default_language()
    pdf = report.weekly_report_pdf(week_start, zone=zone, now=now, language=language)
    response = send_file(BytesIO(pdf), mimetype="application/pdf", as_attachment=True,
                         download_name=report.file_name(week_start, language))
    response.headers["Cache-Control"] = "private, no-store"
    return response
