"""Impact page: customers after a moment type or a compensation, beside comparable customers."""
from __future__ import annotations

from flask import current_app, render_template, request
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict
from wtforms import SelectChoice, SelectField
from wtforms.validators import Optional

from crm.customers.lifecycle import TIERS
from crm.customers.services import segments
from crm.domain import ValidationFailed
from crm.insights import impact as service
from crm.insights import services
from crm.insights.forms import PeriodFilterForm
from crm.insights.views import Figures, bp
from crm.labels import choices
from crm.moments.catalog import list_moment_types
from crm.types import utc_now
from crm.web import apply_errors, role_required

# The figures of a window, in the order the page shows them, with their kind for Figures.
FIGURE_ROWS = (
    ("bought", _l("Bought at all"), "percent"),
    ("purchases", _l("Purchases per customer"), "number"),
    ("revenue", _l("Revenue per customer"), "money"),
    ("churned", _l("Churned"), "percent"),
)


class ImpactFilterForm(PeriodFilterForm):
    treatment = SelectField(_l("Customers who went through"), validators=[Optional()])
    tier = SelectField(_l("Service tier"), validators=[Optional()])

    # The service's names for its fields, and the fields that show their errors here.
    SERVICE_FIELDS = {"from": "since", "to": "until"}

    def __init__(self, *args, moment_types=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.treatment.choices = [SelectChoice(service.COMPENSATION, _l("Compensation issued"))] + [
            SelectChoice(str(m.id), m.name) for m in moment_types]
        self.tier.choices = [SelectChoice("", _l("Any tier"))] + choices("tier", TIERS)


def _form(today):
    args = request.args.to_dict()
    moment_types = list_moment_types(include_inactive=True)
    # A first visit shows the classic retention measure over the default period; a link may
    # name a moment type by its code (the select holds ids).
    treatment = args.get("treatment") or service.COMPENSATION
    if treatment != service.COMPENSATION:
        treatment = {m.code: str(m.id) for m in moment_types}.get(treatment, treatment)
    args["treatment"] = treatment
    first, last = service.default_period(today)
    if not args.get("until") and not args.get("since"):
        args["since"], args["until"] = first.isoformat(), last.isoformat()
    return ImpactFilterForm(formdata=MultiDict(args), segments=segments(), moment_types=moment_types)


@bp.get("/impact")
@role_required("supervisor")
def impact():
    zone = current_app.config["BABEL_DEFAULT_TIMEZONE"]
    now = utc_now()
    form = _form(services.today(zone, now))
    report = None
    if form.validate():
        try:
            report = service.impact_report(form.treatment.data, form.since.data, form.until.data,
                                           {"segment": form.segment.data or None, "tier": form.tier.data or None},
                                           zone=zone, now=now)
        except ValidationFailed as exc:
            apply_errors(form, ValidationFailed({form.SERVICE_FIELDS.get(name, name): error
                                                 for name, error in exc.fields.items()}))
    return render_template("insights/impact.html", form=form, report=report, figures=Figures(),
                           rows=FIGURE_ROWS), 200 if report else 400
