"""Admin → Lifecycle rules: switch the rules on and off, set their parameters, run them now."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from wtforms import BooleanField, StringField
from wtforms.validators import InputRequired, Length

from crm.auth.models import User
from crm.customers import automation
from crm.customers.automation_rules import RULES, RULES_BY_CODE
from crm.domain import ValidationFailed
from crm.extensions import db
from crm.forms import BaseForm
from crm.labels import LABELS
from crm.types import utc_now
from crm.web import apply_errors, role_required

bp = Blueprint("lifecycle", __name__, url_prefix="/admin/lifecycle-rules")

RULE_NAMES = LABELS["rule"]
RULE_HELP = {
    "first_purchase": _l("A prospect's first purchase makes them a new customer."),
    "regular_purchases": _l("At least this many purchases within the last days: stage Active, loyalty Regular."),
    "exclusive": _l("We cannot see what customers buy elsewhere, so “buying only from us” is read as a purchase "
                    "in every one of the last calendar months (the months before this one, or the months ending "
                    "with this one): stage Loyal, loyalty Exclusive."),
    "promoter": _l("An NPS answer of 9 or 10 and a contact of a referral moment type, both within the last days: "
                   "stage Promoter, loyalty Promoter. Referral types are moment type codes separated by commas."),
    "survey_detractor": _l("A detractor answer (NPS 0–6, CSAT 1–2, CES 1–3) puts the customer at risk as soon as "
                           "it arrives; the nightly run looks back this many days. Supervisors are alerted about "
                           "every detractor answer, even with the rule off."),
    "repeated_breaches": _l("At least this many broken commitments within the last days: stage At risk."),
    "inactivity": _l("No contact and no purchase for this many days: stage Churned. A customer a person moved "
                     "within those days is left alone."),
}
PARAM_LABELS = {
    ("regular_purchases", "purchases"): _l("Purchases, at least"),
    ("regular_purchases", "days"): _l("Within the last (days)"),
    ("exclusive", "months"): _l("Calendar months in a row"),
    ("promoter", "days"): _l("Within the last (days)"),
    ("promoter", "referral_types"): _l("Referral moment types (codes)"),
    ("survey_detractor", "days"): _l("Answers of the last (days)"),
    ("repeated_breaches", "breaches"): _l("Broken commitments, at least"),
    ("repeated_breaches", "days"): _l("Within the last (days)"),
    ("inactivity", "days"): _l("Days without contact or purchase"),
}


def _form_class():
    """One form for every rule: `<code>_enabled` and `<code>_<setting>` fields, the names
    `automation.save_rules` reports its errors under."""
    fields = {}
    for spec in RULES:
        fields[f"{spec.code}_enabled"] = BooleanField(_l("On"))
        for param in spec.params:
            label = PARAM_LABELS[(spec.code, param.name)]
            if param.is_codes:
                fields[f"{spec.code}_{param.name}"] = StringField(label, validators=[Length(max=900)])
            else:
                fields[f"{spec.code}_{param.name}"] = StringField(
                    label, validators=[InputRequired(), Length(max=6)], render_kw={"inputmode": "numeric"})
    return type("LifecycleRulesForm", (BaseForm,), fields)


LifecycleRulesForm = _form_class()


def _form(formdata=None):
    if formdata is not None:
        return LifecycleRulesForm(formdata=formdata)
    data = {}
    for code, cfg in automation.configs().items():
        data[f"{code}_enabled"] = cfg.enabled
        for name, value in cfg.params.items():
            data[f"{code}_{name}"] = ", ".join(value) if isinstance(value, list) else str(value)
    return LifecycleRulesForm(formdata=None, data=data)


def _to_data(form) -> dict:
    return {spec.code: {"enabled": bool(form[f"{spec.code}_enabled"].data),
                        "params": {p.name: form[f"{spec.code}_{p.name}"].data or "" for p in spec.params}}
            for spec in RULES}


def _render(form, status: int = 200):
    rows = automation.rules()
    last_run = automation.last_run()
    last_run_user = db.session.get(User, last_run.user_id) if last_run and last_run.user_id else None
    return render_template("admin/lifecycle_rules.html", form=form, rows=rows, specs=RULES_BY_CODE,
                           names=RULE_NAMES, help=RULE_HELP, last_run=last_run,
                           last_run_user=last_run_user), status


@bp.before_request
@role_required("admin")
def require_admin():
    """Only admins see and change the rules."""


@bp.get("")
def rules():
    response = _render(_form())
    db.session.commit()  # rules seen for the first time are stored with their defaults
    return response


@bp.post("")
def save_rules():
    form = _form(request.form)
    if form.validate_on_submit():
        try:
            automation.save_rules(current_user, _to_data(form), utc_now())
        except ValidationFailed as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            db.session.commit()
            flash(_("Lifecycle rules saved."), "success")
            return redirect(url_for("lifecycle.rules"))
    return _render(form, status=422 if not form.csrf_token.errors else 400)


@bp.post("/run")
def run_now():
    result = automation.apply_lifecycle_rules(utc_now(), current_user, checkpoint=db.session.commit)
    db.session.commit()
    flash(ngettext("Lifecycle rules applied: %(num)d customer changed.",
                   "Lifecycle rules applied: %(num)d customers changed.", result.customers), "success")
    return redirect(url_for("lifecycle.rules"))
