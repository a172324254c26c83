"""The agent's work: home page, logging contacts, keeping commitments; the supervisor's queue."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select

from crm.auth.models import User
from crm.auth.services import active_staff
from crm.customers.services import get_customer
from crm.domain import DomainError
from crm.extensions import db
from crm.forms import ActionForm
from crm.moments import services
from crm.moments.catalog import moment_type_choices
from crm.moments.forms import MomentForm
from crm.types import utc_now
from crm.web import act, apply_errors, page_arg, redirect_back, role_required, staff_required

bp = Blueprint("moments", __name__)


@bp.get("/")
@staff_required
def home():
    page = services.open_commitments(owner_id=current_user.id, page=page_arg())
    return render_template("moments/home.html", page=page, now=utc_now())


@bp.get("/commitments")
@role_required("supervisor")
def queue():
    owner = request.args.get("owner", type=int)
    page = services.open_commitments(owner_id=owner, page=page_arg())
    staff = list(db.session.scalars(select(User).order_by(User.name)))
    return render_template("moments/queue.html", page=page, now=utc_now(), staff=staff, owner=owner)


@bp.post("/customers/<id:customer_id>/moments")
@staff_required
def log(customer_id: int):
    from crm.customers.views import render_customer

    customer = get_customer(customer_id)
    recent = services.recent_moments(customer)
    form = MomentForm(moment_types=moment_type_choices(), recent=recent, staff=active_staff(),
                      staff_id=current_user.id)
    if form.validate_on_submit():
        zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
        try:
            moment = services.log_moment(current_user, form.to_data(customer.id, zone), utc_now())
        except DomainError as exc:
            db.session.rollback()
            customer = get_customer(customer_id)
            apply_errors(form, exc)
        else:
            # Counted before the commit, which expires what the session holds: read after
            # it, the moment, its commitments and the customer would each be loaded again.
            count = len(moment.commitments)
            db.session.commit()
            flash(_("Contact logged.") + " " + ngettext(
                "%(num)d commitment created.", "%(num)d commitments created.", count), "success")
            return redirect(url_for("customers.detail", customer_id=customer_id))
    return render_customer(customer, moment_form=form, status=400)


@bp.get("/customers/<id:customer_id>/log-details")
@staff_required
def log_details(customer_id: int):
    """The log form's "More" fields, fetched when a person opens that part."""
    customer = get_customer(customer_id)
    form = MomentForm(recent=services.recent_moments(customer), staff=active_staff(), staff_id=current_user.id)
    return render_template("moments/_log_details.html", moment_form=form)


@bp.post("/moments/<id:moment_id>/emotion")
@staff_required
def set_emotion(moment_id: int):
    """One click on a face: answers the new faces for htmx, or goes back without it."""
    moment = services.get_moment(moment_id)
    services.set_emotion(current_user, moment, request.form.get("emotion"), utc_now())
    db.session.commit()
    if request.headers.get("HX-Request"):
        return render_template("moments/_emotion.html", moment=moment)
    return redirect(url_for("customers.detail", customer_id=moment.customer_id))


@bp.post("/commitments/<id:commitment_id>/pause")
@staff_required
def pause(commitment_id: int):
    return _commitment_action(services.pause_commitment, commitment_id, _("Commitment paused."))


@bp.post("/commitments/<id:commitment_id>/resume")
@staff_required
def resume(commitment_id: int):
    return _commitment_action(services.resume_commitment, commitment_id, _("Commitment resumed."))


def _commitment_action(action, commitment_id: int, success: str):
    commitment = services.get_commitment(commitment_id)
    act(lambda: action(current_user, commitment, utc_now()), success)
    return redirect_back(url_for("customers.detail", customer_id=commitment.customer_id))


@bp.post("/commitments/<id:commitment_id>/met")
@staff_required
def mark_met(commitment_id: int):
    commitment = services.get_commitment(commitment_id)
    if ActionForm().validate_on_submit():
        services.mark_met(current_user, commitment, utc_now())
        db.session.commit()
        flash(_("Commitment marked as met."), "success")
    return redirect_back(url_for("customers.detail", customer_id=commitment.customer_id))
