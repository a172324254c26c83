"""Pages of crm.privacy: a customer's data rights (download everything, erase on request)."""
from __future__ import annotations

import json

from flask import Blueprint, Response, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm.customers.services import get_customer
from crm.domain import Conflict, DomainError
from crm.extensions import db
from crm.privacy import services
from crm.privacy.forms import EraseForm
from crm.types import utc_now
from crm.web import apply_errors, fresh_login_required, role_required

bp = Blueprint("privacy", __name__, url_prefix="/privacy")


def _page(customer, form: EraseForm | None = None, status: int = 200):
    return render_template("privacy/customer.html", customer=customer,
                           form=form or EraseForm(formdata=None)), status


@bp.get("/customers/<id:customer_id>")
@role_required("supervisor")
def customer(customer_id: int):
    return _page(get_customer(customer_id))


def json_download(document: dict, filename: str) -> Response:
    body = json.dumps(document, ensure_ascii=False, indent=2, sort_keys=False)
    return Response(body, mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})


@bp.get("/customers/<id:customer_id>/export.json")
@role_required("supervisor")
def export(customer_id: int):
    """Everything held about the customer, as one JSON file; the download is audited."""
    customer = get_customer(customer_id)
    now = utc_now()
    document = services.export_customer_data(current_user, customer, now, via="page")
    db.session.commit()
    return json_download(document, f"customer-{customer.id}.json")


@bp.post("/customers/<id:customer_id>/erase")
@role_required("admin")
@fresh_login_required
def erase(customer_id: int):
    customer = get_customer(customer_id)
    form = EraseForm()
    if not form.validate_on_submit():
        return _page(customer, form, 400)
    try:
        services.erase_customer(current_user, customer, form.reason.data, utc_now(),
                                confirmation=form.confirmation.data)
    except DomainError as exc:
        db.session.rollback()
        if isinstance(exc, Conflict):
            flash(exc.translated(), "error")  # the form is gone from an erased customer's page
        else:
            apply_errors(form, exc)
        return _page(get_customer(customer_id), form, exc.status)
    db.session.commit()
    flash(_("The customer's personal data has been erased. Their figures stay in the reports."), "success")
    return redirect(url_for("customers.detail", customer_id=customer_id))
