"""Customer pages: find, create, edit, move through stages, read the timeline."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm.auth.services import active_staff
from crm.compensations import services as compensations
from crm.customers import services
from crm.customers.forms import CustomerForm, SearchForm, StageForm
from crm.domain import DomainError
from crm.extensions import db
from crm.moments.catalog import moment_type_choices
from crm.moments.forms import MomentForm
from crm.moments.services import commitment_counts
from crm.types import utc_now
from crm.web import apply_errors, page_arg, staff_required

bp = Blueprint("customers", __name__, url_prefix="/customers")


@bp.get("")
@staff_required
def index():
    staff = active_staff()
    form = SearchForm(request.args, segments=services.segments(), owners=staff)
    results = None
    if form.validate():
        owner = form.owner.data
        results = services.search_customers(
            form.q.data or "", stage=form.stage.data or None, segment=form.segment.data or None,
            owner_id=int(owner) if owner and owner.isdecimal() else None, page=page_arg())
    template = "customers/_results.html" if request.headers.get("HX-Request") else "customers/index.html"
    return render_template(template, form=form, results=results)


@bp.route("/new", methods=["GET", "POST"])
@staff_required
def create():
    form = CustomerForm(owners=active_staff(), owner_id=current_user.id)
    if form.validate_on_submit():
        try:
            customer = services.create_customer(current_user, form.to_data(), utc_now())
        except DomainError as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            db.session.commit()
            flash(_("Customer created."), "success")
            return redirect(url_for("customers.detail", customer_id=customer.id))
    status = 400 if request.method == "POST" else 200
    return render_template("customers/form.html", form=form, customer=None), status


@bp.get("/<id:customer_id>")
@staff_required
def detail(customer_id: int):
    customer = services.get_customer(customer_id)
    return render_customer(customer)


def render_customer(customer, *, moment_form=None, stage_form=None, status=200):
    # The log form's "More" part (earlier contacts, staff) is fetched when opened,
    # unless a failed post must show its errors here.
    moment_form = moment_form or MomentForm(moment_types=moment_type_choices(), staff_id=current_user.id)
    stage_form = stage_form or StageForm(prefix="stage")
    ledger = compensations.ledger(customer)
    return render_template(
        "customers/detail.html", customer=customer, timeline=services.timeline(customer, page_arg()),
        moment_form=moment_form, stage_form=stage_form, now=utc_now(),
        counts=commitment_counts(customer), ledger=ledger, compensation_cost=compensations.issued_cost(ledger),
        goodwill_limit=compensations.goodwill_limit(current_user.role) if customer.last_activity_at else 0,
    ), status


@bp.route("/<id:customer_id>/edit", methods=["GET", "POST"])
@staff_required
def edit(customer_id: int):
    customer = services.get_customer(customer_id)
    form = CustomerForm(obj=customer, owners=active_staff(), creating=False)
    if request.method == "GET":
        form.owner_id.data = customer.owner_id or 0
    if form.validate_on_submit():
        try:
            services.update_customer(current_user, customer, form.to_data(), utc_now())
        except DomainError as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            db.session.commit()
            flash(_("Customer saved."), "success")
            return redirect(url_for("customers.detail", customer_id=customer.id))
    status = 400 if request.method == "POST" else 200
    return render_template("customers/form.html", form=form, customer=customer), status


@bp.post("/<id:customer_id>/stage")
@staff_required
def change_stage(customer_id: int):
    customer = services.get_customer(customer_id)
    form = StageForm(prefix="stage")
    if form.validate_on_submit():
        try:
            services.change_stage(current_user, customer, form.stage.data, form.reason.data, utc_now())
        except DomainError as exc:
            db.session.rollback()
            customer = services.get_customer(customer_id)
            apply_errors(form, exc)
        else:
            db.session.commit()
            flash(_("Stage changed."), "success")
            return redirect(url_for("customers.detail", customer_id=customer.id))
    return render_customer(customer, stage_form=form, status=400)


from crm.customers import purchase_views  # noqa: E402,F401  (its routes join this blueprint)
