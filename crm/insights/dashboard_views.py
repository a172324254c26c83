"""The supervisor's dashboard at /insights/: today's breaches and risks, and the key figures' trend."""
from __future__ import annotations

from flask import current_app, render_template
from flask_babel import lazy_gettext as _l

from crm.insights import dashboard as queries
from crm.insights.figures import FIGURE_LABELS as ALL_LABELS
from crm.insights.views import Figures, bp
from crm.types import utc_now
from crm.web import role_required

TREND_FIGURES = ("nps", "csat", "fcr_first", "fcr_second", "sla_first_response", "sla_resolution",
                 "cost_to_serve", "revenue", "churn_rate")
FIGURE_LABELS = {figure: ALL_LABELS[figure] for figure in TREND_FIGURES}
SURVEY_LABELS = {"nps": _l("NPS"), "csat": _l("CSAT"), "ces": _l("CES")}
DIRECTIONS = {"up": ("▲", _l("Up")), "down": ("▼", _l("Down")), "flat": ("▬", _l("No change"))}


@bp.get("/")
@role_required("supervisor")
def dashboard():
    data = queries.dashboard(utc_now(), current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return render_template("insights/dashboard.html", today=data["today"], figures_report=data["figures"],
                           figures=Figures(), figure_labels=FIGURE_LABELS, survey_labels=SURVEY_LABELS,
                           directions=DIRECTIONS)
