"""The supervisor's dashboard at /insights/: today's breaches and risks, and the key figures' trend."""
from __future__ import annotations

from flask import current_app, render_template
from flask_babel import lazy_gettext as _l

from crm.insights import dashboard as queries
from crm.insights.views import Figures, bp
from crm.types import utc_now
from crm.web import role_required

FIGURE_LABELS = {
    "nps": _l("NPS"),
    "csat": _l("CSAT: satisfied customers"),
    "fcr_first": _l("Resolved on the first contact (FCR)"),
    "fcr_second": _l("Resolved by the second contact"),
    "sla_first_response": _l("First responses on time"),
    "sla_resolution": _l("Resolutions on time"),
    "cost_to_serve": _l("Cost to serve"),
    "revenue": _l("Revenue"),
    "churn_rate": _l("Churn rate"),
}
SURVEY_LABELS = {"nps": _l("NPS"), "csat": _l("CSAT"), "ces": _l("CES")}
DIRECTIONS = {"up": ("▲", _l("Up")), "down": ("▼", _l("Down")), "flat": ("▬", _l("No change"))}


@bp.get("/")
@role_required("supervisor")
def dashboard():
    data = queries.dashboard(utc_now(), current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return render_template("insights/dashboard.html", today=data["today"], figures_report=data["figures"],
                           figures=Figures(), figure_labels=FIGURE_LABELS, survey_labels=SURVEY_LABELS,
                           directions=DIRECTIONS)
