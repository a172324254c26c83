"""Pages of crm.webhooks: admins register endpoints, see every delivery and what the receiver answered."""
from __future__ import annotations

import json

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from crm.domain import DomainError
from crm.extensions import db
from crm.forms import ActionForm
from crm.types import utc_now
from crm.web import act, apply_errors, page_arg, role_required
from crm.webhooks import services
from crm.webhooks.forms import EVENT_LABELS, EndpointForm
from crm.webhooks.models import DELIVERY_STATUSES

bp = Blueprint("webhooks", __name__, url_prefix="/admin/webhooks")


@bp.before_request
@role_required("admin")
def require_admin():
    """Every webhook page needs an admin; checked once for the whole blueprint."""


def _status_arg() -> str | None:
    status = request.args.get("status") or None
    return status if status in DELIVERY_STATUSES else None


def _secret_page(endpoint, secret: str, created: bool):
    """The secret, shown once, in a response nobody caches."""
    response = make_response(render_template("webhooks/secret.html", endpoint=endpoint, secret=secret,
                                             created=created))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("")
def index():
    endpoints = services.list_endpoints()
    status = _status_arg()
    return render_template("webhooks/index.html", endpoints=endpoints, labels=EVENT_LABELS,
                           counts=services.delivery_counts(), statuses=DELIVERY_STATUSES, status=status,
                           deliveries=services.list_deliveries(status=status, page=page_arg()))


@bp.route("/new", methods=["GET", "POST"])
def new():
    form = EndpointForm()
    if request.method == "GET":
        form.events.data = []
    if form.validate_on_submit():
        try:
            endpoint, secret = services.create_endpoint(current_user, form.to_data(), utc_now())
        except DomainError as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            db.session.commit()
            return _secret_page(endpoint, secret, created=True)
    status = 400 if request.method == "POST" else 200
    return render_template("webhooks/form.html", form=form, endpoint=None), status


@bp.route("/<id:endpoint_id>", methods=["GET", "POST"])
def edit(endpoint_id: int):
    endpoint = services.get_endpoint(endpoint_id)
    form = EndpointForm(obj=endpoint)
    if form.validate_on_submit():
        try:
            services.update_endpoint(current_user, endpoint, form.to_data(), utc_now())
        except DomainError as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            db.session.commit()
            flash(_("Webhook endpoint saved."), "success")
            return redirect(url_for("webhooks.edit", endpoint_id=endpoint.id))
    status = _status_arg()
    code = 400 if request.method == "POST" else 200
    return render_template(
        "webhooks/form.html", form=form, endpoint=endpoint, statuses=DELIVERY_STATUSES, status=status,
        counts=services.delivery_counts([endpoint.id]).get(endpoint.id, dict.fromkeys(DELIVERY_STATUSES, 0)),
        deliveries=services.list_deliveries(endpoint_id=endpoint.id, status=status, page=page_arg())), code


@bp.post("/<id:endpoint_id>/rotate")
def rotate(endpoint_id: int):
    endpoint = services.get_endpoint(endpoint_id)
    if not ActionForm().validate_on_submit():
        flash(_("The form expired. Please send it again."), "error")
        return redirect(url_for("webhooks.edit", endpoint_id=endpoint.id))
    secret = services.rotate_secret(current_user, endpoint, utc_now())
    db.session.commit()
    return _secret_page(endpoint, secret, created=False)


@bp.post("/<id:endpoint_id>/test")
def test(endpoint_id: int):
    endpoint = services.get_endpoint(endpoint_id)
    if ActionForm().validate_on_submit():
        delivery = services.send_test(current_user, endpoint, utc_now())
        db.session.commit()
        flash(_("A test event is on its way; this page shows the receiver's answer once it is sent."), "success")
        return redirect(url_for("webhooks.delivery", delivery_id=delivery.id))
    return redirect(url_for("webhooks.edit", endpoint_id=endpoint.id))


@bp.post("/<id:endpoint_id>/retry-failed")
def retry_failed(endpoint_id: int):
    endpoint = services.get_endpoint(endpoint_id)
    if ActionForm().validate_on_submit():
        count = services.retry_failed(current_user, endpoint, utc_now())
        db.session.commit()
        flash(ngettext("%(num)d failed delivery will be sent again.",
                       "%(num)d failed deliveries will be sent again.", count), "success")
    return redirect(url_for("webhooks.edit", endpoint_id=endpoint.id))


@bp.post("/<id:endpoint_id>/delete")
def delete(endpoint_id: int):
    endpoint = services.get_endpoint(endpoint_id)
    if ActionForm().validate_on_submit():
        services.delete_endpoint(current_user, endpoint, utc_now())
        db.session.commit()
        flash(_("Webhook endpoint deleted."), "success")
        return redirect(url_for("webhooks.index"))
    return redirect(url_for("webhooks.edit", endpoint_id=endpoint.id))


@bp.get("/deliveries/<id:delivery_id>")
def delivery(delivery_id: int):
    found = services.get_delivery(delivery_id)
    body = json.dumps(json.loads(found.event.body), ensure_ascii=False, indent=2)
    return render_template("webhooks/delivery.html", delivery=found, body=body,
                           attempts=services.attempts_of(found), labels=EVENT_LABELS)


@bp.post("/deliveries/<id:delivery_id>/retry")
def retry(delivery_id: int):
    found = services.get_delivery(delivery_id)
    if ActionForm().validate_on_submit():
        act(lambda: services.retry_delivery(current_user, found, utc_now()),
            _("The delivery will be sent again."))
    return redirect(url_for("webhooks.delivery", delivery_id=delivery_id))
