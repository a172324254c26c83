"""Supervisors' journey map (phases, touchpoints, the emotion curve) and service blueprints."""
from __future__ import annotations

from flask import current_app, render_template, request
from werkzeug.datastructures import MultiDict

from crm.customers.models import Customer
from crm.customers.services import segments
from crm.domain import ValidationFailed
from crm.extensions import db
from crm.insights import journey as journeys
from crm.insights import services
from crm.insights.charts import CurvePoint, emotion_curve
from crm.insights.forms import JourneyFilterForm
from crm.insights.views import Figures, _default_dates, bp
from crm.labels import label
from crm.moments.catalog import OBJECTIVE_LABELS, get_moment_type
from crm.moments.models import BLUEPRINT_LANES
from crm.queries import is_id, typed_id
from crm.types import utc_now
from crm.web import apply_errors, role_required


def _filters():
    zone = current_app.config["BABEL_DEFAULT_TIMEZONE"]
    now = utc_now()
    args = _default_dates(request.args.to_dict(), services.today(zone, now))
    return JourneyFilterForm(formdata=MultiDict(args), segments=segments()), zone, now


def _run(form, report):
    """The report, or None with the service's complaints shown on the form."""
    if not form.validate():
        return None
    try:
        return report()
    except ValidationFailed as exc:
        apply_errors(form, ValidationFailed({form.SERVICE_FIELDS.get(name, name): error
                                             for name, error in exc.fields.items()}))
        return None


def _customer(form):
    ident = typed_id(form.customer_id.data)
    return db.session.get(Customer, ident) if is_id(ident) else None


def curve_chart(report: dict):
    """The report's emotion curve as SVG markup (the page's and, later, the PDF's)."""
    points = [CurvePoint(label=point["moment_type"].name, group=str(label("phase", point["phase"])),
                         value=point["emotion"], previous=point["previous_emotion"], pain=point["pain"])
              for point in report["curve"]]
    return emotion_curve(points, chart_id="emotion-curve")


@bp.get("/journey")
@role_required("supervisor")
def journey():
    form, zone, now = _filters()
    report = _run(form, lambda: journeys.journey_report(form.since.data, form.until.data, form.scope(),
                                                         zone=zone, now=now))
    return render_template("insights/journey.html", form=form, report=report, figures=Figures(),
                           chart=curve_chart(report) if report else None, customer=_customer(form),
                           objective_labels=OBJECTIVE_LABELS), 200 if report else 400


@bp.get("/blueprint")
@role_required("supervisor")
def blueprints():
    form, zone, now = _filters()
    report = _run(form, lambda: journeys.blueprints_report(form.since.data, form.until.data, form.scope(),
                                                            zone=zone, now=now))
    return render_template("insights/blueprint.html", form=form, report=report, figures=Figures(),
                           moment_type=None, customer=_customer(form), objective_labels=OBJECTIVE_LABELS,
                           lanes=BLUEPRINT_LANES), 200 if report else 400


@bp.get("/blueprint/<id:type_id>")
@role_required("supervisor")
def blueprint(type_id: int):
    moment_type = get_moment_type(type_id)  # NotFound: 404
    form, zone, now = _filters()
    report = _run(form, lambda: journeys.blueprint_report(moment_type, form.since.data, form.until.data,
                                                           form.scope(), zone=zone, now=now))
    return render_template("insights/blueprint.html", form=form, report=report, figures=Figures(),
                           moment_type=moment_type, customer=_customer(form), objective_labels=OBJECTIVE_LABELS,
                           lanes=BLUEPRINT_LANES), 200 if report else 400
