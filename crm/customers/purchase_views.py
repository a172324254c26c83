"""A customer's purchases on the customer page: the revenue section and recording one.

The section is its own request (htmx loads it once it is on screen), so the
customer page itself costs nothing more to render.
"""
from __future__ import annotations

from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.numbers import format_currency
from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from crm.customers import purchases as purchase_services
from crm.customers.forms import PurchaseForm
from crm.customers.services import get_customer
from crm.customers.views import bp
from crm.domain import DomainError, ValidationFailed
from crm.extensions import db
from crm.types import utc_now
from crm.web import staff_required

SECTION_SIZE = 10


def in_currency(value, currency: str) -> str:
    """An amount in its own currency, in the reader's language (the `money` filter is
    for the app's currency)."""
    return format_currency(Decimal(value), currency, locale=get_locale())


def _new_form() -> PurchaseForm:
    today = utc_now().astimezone(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).date()
    return PurchaseForm(prefix="purchase", currency=current_app.config["CRM_CURRENCY"],
                        purchased_on=today.isoformat(), formdata=None)


@bp.get("/<id:customer_id>/purchases", endpoint="purchases")
@staff_required
def purchase_section(customer_id: int):
    """The section for htmx, or a page of its own when opened without it."""
    customer = get_customer(customer_id)
    latest = purchase_services.list_purchases(customer_id=customer.id, per_page=SECTION_SIZE)
    return render_template("customers/_purchases.html", customer=customer, purchases=latest,
                           revenue=purchase_services.revenue_by_currency(customer), form=_new_form(),
                           app_currency=current_app.config["CRM_CURRENCY"], in_currency=in_currency,
                           full_page=not request.headers.get("HX-Request"))


def _refusal(form: PurchaseForm, error: DomainError) -> str:
    """One line naming each field a refusal is about, for the flash above the customer page."""
    labels = {name: form[name].label.text for name in ("amount", "currency", "purchased_on", "description")}
    labels["customer_id"] = _("Customer")
    fields = error.fields if isinstance(error, ValidationFailed) else {error.field or "": error}
    return " ".join(f"{labels[name]}: {err.translated()}" if name in labels else err.translated()
                    for name, err in fields.items())


@bp.post("/<id:customer_id>/purchases", endpoint="record_purchase")
@staff_required
def record_purchase(customer_id: int):
    customer = get_customer(customer_id)
    target = url_for("customers.detail", customer_id=customer.id)
    form = PurchaseForm(prefix="purchase")
    if not form.validate_on_submit():
        flash(" ".join(f"{form[name].label.text}: {' '.join(map(str, errors))}" if name in form else
                       " ".join(map(str, errors)) for name, errors in form.errors.items()), "error")
        return redirect(target)
    try:
        purchase = purchase_services.record_purchase(current_user, form.to_data(customer.id), utc_now())
    except DomainError as exc:
        db.session.rollback()
        flash(_refusal(form, exc), "error")
    else:
        db.session.commit()
        flash(_("Purchase of %(amount)s recorded.", amount=in_currency(purchase.amount, purchase.currency)),
              "success")
    return redirect(target)
