"""The supervisors' breach review: pending compensations, decisions, totals, a digest of breaches."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from crm.auth.services import list_teams
from crm.compensations import services
from crm.compensations.forms import ApproveForm, GoodwillForm, RejectForm, ReviewFilterForm
from crm.moments.catalog import list_moment_types
from crm.moments.services import get_moment, recent_moments
from crm.types import utc_now
from crm.web import act, fresh_login_required, page_arg, redirect_back, role_required, staff_required

bp = Blueprint("compensations", __name__, url_prefix="/compensations")


def _filters(form: ReviewFilterForm) -> dict:
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])

    def instant(day, *, end=False):
        if not day:
            return None
        return datetime.combine(day + timedelta(days=1) if end else day, time(), tzinfo=zone)

    return {
        "status": form.status.data or None,
        "team_id": int(form.team.data) if (form.team.data or "").isdecimal() else None,
        "moment_type_id": int(form.moment_type.data) if (form.moment_type.data or "").isdecimal() else None,
        "tier": form.tier.data or None,
        "since": instant(form.since.data),
        "until": instant(form.until.data, end=True),
    }


@bp.get("")
@role_required("supervisor")
def review():
    args = request.args.to_dict()
    args.setdefault("status", "proposed")
    form = ReviewFilterForm(formdata=MultiDict(args), teams=list_teams(),
                            moment_types=list_moment_types(include_inactive=True))
    if not form.validate():
        flash(_("Check the filters."), "error")
        filters = {}
    else:
        filters = _filters(form)
    # Totals and the digest cover every status: the status filter narrows the list only.
    others = {k: v for k, v in filters.items() if k != "status"}
    return render_template(
        "compensations/review.html", form=form, page=services.list_compensations(**filters, page=page_arg()),
        totals=services.totals(**others), digest=services.breach_digest(**others))


def _back():
    return redirect_back(url_for("compensations.review"))


def _decide(action, success: str, compensation_id: int):
    compensation = services.get_compensation(compensation_id)
    act(lambda: action(compensation), success)
    return _back()


@bp.post("/<id:compensation_id>/approve")
@role_required("supervisor")
@fresh_login_required
def approve(compensation_id: int):
    form = ApproveForm()
    if not form.validate_on_submit():
        flash(" ".join(e for errors in form.errors.values() for e in errors), "error")
        return _back()
    return _decide(lambda c: services.approve(current_user, c, utc_now(), value=form.value.data,
                                              note=form.note.data), _("Compensation approved."), compensation_id)


@bp.post("/<id:compensation_id>/reject")
@role_required("supervisor")
def reject(compensation_id: int):
    form = RejectForm()
    if not form.validate_on_submit():
        flash(_("Say why it is rejected."), "error")
        return _back()
    return _decide(lambda c: services.reject(current_user, c, form.reason.data, utc_now()),
                   _("Compensation rejected."), compensation_id)


@bp.post("/<id:compensation_id>/issue")
@role_required("supervisor")
def issue(compensation_id: int):
    return _decide(lambda c: services.issue(current_user, c, utc_now()), _("Compensation issued."),
                   compensation_id)


@bp.route("/goodwill/<id:customer_id>", methods=["GET", "POST"])
@staff_required
def goodwill(customer_id: int):
    """The form (a fragment for htmx, or its own page) and the grant."""
    from crm.customers.services import get_customer

    customer = get_customer(customer_id)
    form = GoodwillForm(prefix="gw", recent=recent_moments(customer))
    target = url_for("customers.detail", customer_id=customer.id)
    if request.method == "GET":
        template = "compensations/_goodwill.html" if request.headers.get("HX-Request") \
            else "compensations/goodwill.html"
        return render_template(template, form=form, customer=customer,
                               limit=services.goodwill_limit(current_user.role))
    if not form.validate_on_submit():
        flash(" ".join(e for errors in form.errors.values() for e in errors), "error")
        return redirect(target)
    moment = get_moment(int(form.moment_id.data))
    act(lambda: services.grant_goodwill(current_user, moment, {"kind": form.kind.data, "value": form.value.data,
                                                               "reason": form.reason.data}, utc_now()),
        _("Compensation granted and issued."))
    return redirect(target)
