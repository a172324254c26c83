"""A customer's follow-ups as staff see them: the panel on the customer page, one-off messages, cancelling.

The panel is its own request (htmx loads it into the customer page), so the
customer page costs nothing more to render and the panel a handful of queries.
"""
from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from crm.customers.services import get_customer
from crm.domain import DomainError, ValidationFailed
from crm.extensions import db
from crm.followups import rules, services
from crm.followups.models import SurveyResponse
from crm.followups.public_forms import ScheduleForm
from crm.followups.views import bp
from crm.types import utc_now
from crm.web import act, redirect_back, staff_required

PANEL_SIZE = 10
OUTBOX_STATUS = {"pending": _l("Waiting"), "sending": _l("Sending"), "sent": _l("Sent"), "failed": _l("Failed"),
                 "cancelled": _l("Cancelled")}
# The badge colours the rest of the app already uses for the same idea.
OUTBOX_BADGE = {"pending": "status-open", "sending": "status-paused", "sent": "status-met",
                "failed": "status-breached", "cancelled": "comp-rejected"}


def _template_choices() -> list[tuple[str, str]]:
    """(code, name) of the templates a person can send by hand, by name."""
    return sorted(((t.code, t.name) for t in services.one_off_templates()), key=lambda choice: choice[1])


@bp.app_template_test("detractor")
def is_detractor(response: SurveyResponse) -> bool:
    """`{% if answer is detractor %}` in any template (the customer timeline uses it)."""
    return rules.is_detractor(response.kind, response.score)


@bp.get("/customers/<id:customer_id>/followups")
@staff_required
def customer_panel(customer_id: int):
    """The panel for htmx, or a page of its own when opened without it."""
    customer = get_customer(customer_id)
    messages = services.list_messages(customer_id=customer.id, per_page=PANEL_SIZE)
    form = ScheduleForm(prefix="fu", templates=_template_choices())
    return render_template("followups/_panel.html", customer=customer, messages=messages, form=form,
                           outbox_status=lambda s: str(OUTBOX_STATUS.get(s, s)),
                           outbox_badge=OUTBOX_BADGE,
                           full_page=not request.headers.get("HX-Request"))


def _field_errors(form: ScheduleForm, error: DomainError) -> str:
    """One line naming each field a refusal is about, for the flash above the customer page."""
    labels = {"template": form.template.label.text, "due_at": form.due_at.label.text,
              "customer_id": _("Customer")}
    fields = error.fields if isinstance(error, ValidationFailed) else {error.field or "": error}
    return " ".join(f"{labels[name]}: {err.translated()}" if name in labels else err.translated()
                    for name, err in fields.items())


@bp.post("/customers/<id:customer_id>/followups")
@staff_required
def schedule(customer_id: int):
    customer = get_customer(customer_id)
    target = url_for("customers.detail", customer_id=customer.id)
    form = ScheduleForm(prefix="fu", templates=_template_choices())
    if not form.validate_on_submit():
        flash(" ".join(f"{form[name].label.text}: {' '.join(map(str, errors))}" if name in form else
                       " ".join(map(str, errors)) for name, errors in form.errors.items()), "error")
        return redirect(target)
    due_at = form.due_at.data
    if due_at is not None:
        due_at = due_at.replace(tzinfo=ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"]))
    try:
        services.schedule_followup(current_user, {"customer_id": customer.id, "template": form.template.data,
                                                  "due_at": due_at}, utc_now())
    except DomainError as exc:
        db.session.rollback()
        flash(_field_errors(form, exc), "error")
    else:
        db.session.commit()
        flash(_("Message scheduled."), "success")
    return redirect(target)


@bp.post("/followups/<id:message_id>/cancel")
@staff_required
def cancel(message_id: int):
    message = services.get_message(message_id)
    target = url_for("customers.detail", customer_id=message.customer_id) if message.customer_id \
        else url_for("moments.home")
    act(lambda: services.cancel_message(current_user, message, utc_now()), _("Message cancelled."))
    return redirect_back(target)
