"""Supervisors' metrics page: every experience figure of a period beside the previous one's."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from babel import dates as babel_dates
from babel import numbers as babel_numbers
from flask import Blueprint, current_app, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from crm.auth.services import active_staff, list_teams
from crm.customers.services import segments
from crm.domain import ValidationFailed
from crm.i18n import money
from crm.insights import services
from crm.insights.figures import SECTIONS
from crm.insights.forms import MetricsFilterForm
from crm.moments.catalog import list_moment_types
from crm.types import utc_now
from crm.web import apply_errors, role_required

bp = Blueprint("insights", __name__, url_prefix="/insights")


@bp.record_once
def _configure(state) -> None:
    # The share of incidents the business wants resolved on the first contact.
    target = state.app.config.setdefault("CRM_FCR_TARGET", services.DEFAULT_FCR_TARGET)
    if not 0 <= float(target) <= 1:
        raise ValueError(f"CRM_FCR_TARGET is a share between 0 and 1 (0.90 for 90 %), not {target!r}")


class Figures:
    """Shows figures in the request's language, rounded to two decimals."""

    def __init__(self):
        self.locale = get_locale()

    def _decimal(self, value, pattern="#,##0.##") -> str:
        return babel_numbers.format_decimal(round(value, 2), format=pattern, locale=self.locale)

    def show(self, value, kind: str) -> str:
        if value is None:
            return "—"
        if kind == "money":
            return money(value)
        if kind == "percent":
            # The language's own pattern ("60 %" in Spanish, "60%" in English), two decimals at most.
            return babel_numbers.format_percent(Decimal(str(round(value, 2))) / 100, locale=self.locale,
                                                decimal_quantization=False)
        return self._decimal(value)

    def change(self, value, kind: str) -> str:
        if value is None:
            return "—"
        if round(value, 2) == 0:
            return self._decimal(0)
        if kind == "money":
            return ("+" if value > 0 else "") + money(value)
        signed = self._decimal(value, "+#,##0.##;-#,##0.##")
        return _("%(points)s pp", points=signed) if kind == "percent" else signed

    def day(self, day: date) -> str:
        return babel_dates.format_date(day, "medium", locale=self.locale)

    def month(self, day: date) -> str:
        return babel_dates.format_date(day, "LLLL y", locale=self.locale)


def _default_dates(args: dict, today: date) -> dict:
    """Empty dates mean the last 30 days up to today (or up to the given end)."""
    if not args.get("until"):
        args["until"] = today.isoformat()
    if not args.get("since"):
        try:
            last = date.fromisoformat(args["until"])
            first = last - timedelta(days=services.DEFAULT_DAYS - 1)
        except (ValueError, OverflowError):
            first = today - timedelta(days=services.DEFAULT_DAYS - 1)
        args["since"] = first.isoformat()
    return args


@bp.get("/metrics")
@role_required("supervisor")
def metrics():
    zone = current_app.config["BABEL_DEFAULT_TIMEZONE"]
    now = utc_now()
    args = _default_dates(request.args.to_dict(), services.today(zone, now))
    form = MetricsFilterForm(formdata=MultiDict(args), segments=segments(), teams=list_teams(), staff=active_staff(),
                             moment_types=list_moment_types(include_inactive=True))
    report = None
    if form.validate():
        try:
            report = services.metrics_report(form.since.data, form.until.data, form.filters(), zone=zone, now=now)
        except ValidationFailed as exc:
            apply_errors(form, ValidationFailed({form.SERVICE_FIELDS.get(name, name): error
                                                 for name, error in exc.fields.items()}))
    return render_template("insights/metrics.html", form=form, report=report, sections=SECTIONS,
                           figures=Figures()), 200 if report else 400
import crm.insights.dashboard_views  # noqa: E402,F401
import crm.insights.impact_views  # noqa: E402,F401
import crm.insights.profitability_views  # noqa: E402,F401
import crm.insights.report_views  # noqa: E402,F401
from crm.insights import journey_views  # noqa: E402,F401  (the journey map and blueprint routes on this bp)
