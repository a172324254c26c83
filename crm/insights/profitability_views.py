"""Profitability page: profit per customer, tier distribution, keep-or-end decisions, the tier rule."""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import BooleanField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length

from crm.customers.models import Customer
from crm.domain import ValidationFailed
from crm.extensions import db
from crm.forms import BaseForm
from crm.insights import profitability as service
from crm.insights.views import Figures, bp
from crm.types import utc_now
from crm.web import apply_errors, page_arg, role_required

DECISION_LABELS = {"keep": _l("Keep the customer"), "end": _l("End the relationship")}
MODE_LABELS = {"thresholds": _l("Profit thresholds"), "percentiles": _l("Percentiles of customers")}
LIST_LABELS = {"unprofitable": _l("Unprofitable"), "top": _l("Most profitable"), "bottom": _l("Least profitable")}


class DecisionForm(BaseForm):
    decision = SelectField(_l("Decision"), choices=[SelectChoice("", "—")] + [SelectChoice(k, v) for k, v in DECISION_LABELS.items()],
                           validators=[InputRequired()])
    reason = TextAreaField(_l("Why"), validators=[InputRequired(), Length(max=1000)])


class TierRuleForm(BaseForm):
    mode = SelectField(_l("Rule"), choices=[SelectChoice(k, v) for k, v in MODE_LABELS.items()], validators=[InputRequired()])
    premium = StringField(_l("Premium from (profit, or top percent of customers)"),
                          validators=[InputRequired(), Length(max=20)], render_kw={"inputmode": "decimal"})
    standard = StringField(_l("Standard from (profit, or next percent of customers)"),
                           validators=[InputRequired(), Length(max=20)], render_kw={"inputmode": "decimal"})
    period_days = StringField(_l("Period (days)"), validators=[InputRequired(), Length(max=5)],
                              render_kw={"inputmode": "numeric"})
    active = BooleanField(_l("Recompute tiers every night"))

    def to_data(self) -> dict:
        return {"mode": self.mode.data, "premium": self.premium.data, "standard": self.standard.data,
                "period_days": self.period_days.data, "active": self.active.data}


def _rule_form(formdata=None) -> TierRuleForm:
    rule = service.get_rule()
    if formdata is not None:
        return TierRuleForm(formdata=formdata)
    return TierRuleForm(formdata=None, data={"mode": rule.mode, "premium": str(rule.premium),
                                             "standard": str(rule.standard), "period_days": str(rule.period_days),
                                             "active": rule.active})


def _render(*, rule_form: TierRuleForm | None = None, failed: tuple[int, DecisionForm] | None = None,
            status: int = 200):
    show = request.args.get("show", "unprofitable")
    if show not in service.LISTS:
        show = "unprofitable"
    rule = service.get_rule()
    now = utc_now()
    period = service.period_for(rule.period_days, now, current_app.config["BABEL_DEFAULT_TIMEZONE"])
    page = service.profit_page(period, show, page_arg())
    decisions = service.latest_decisions(row.id for row in page.items)
    forms = {}
    if show == "unprofitable":
        forms = {row.id: DecisionForm(formdata=None, prefix=f"c{row.id}") for row in page.items}
    if failed is not None:
        forms[failed[0]] = failed[1]
    if rule_form is None and current_user.has_role("admin"):
        rule_form = _rule_form()
    return render_template(
        "insights/profitability.html", rule=rule, setting=service.rule_setting(), period=period, show=show,
        page=page, decisions=decisions, forms=forms, rule_form=rule_form, distribution=service.tier_distribution(),
        changes=service.recent_tier_changes(), figures=Figures(), currency=current_app.config["CRM_CURRENCY"],
        decision_labels=DECISION_LABELS, mode_labels=MODE_LABELS, list_labels=LIST_LABELS,
        failed_id=failed[0] if failed else None), status


@bp.get("/profitability")
@role_required("supervisor")
def profitability():
    return _render()


@bp.post("/profitability/<id:customer_id>/decision")
@role_required("supervisor")
def decide_customer(customer_id: int):
    if db.session.get(Customer, customer_id) is None:
        abort(404)
    form = DecisionForm(prefix=f"c{customer_id}")
    if form.validate_on_submit():
        try:
            service.decide_customer(current_user, customer_id,
                                    {"decision": form.decision.data, "reason": form.reason.data}, utc_now())
        except ValidationFailed as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            db.session.commit()
            flash(_("Decision recorded."), "success")
            return redirect(url_for("insights.profitability", show=request.args.get("show", "unprofitable"),
                                    page=page_arg()))
    return _render(failed=(customer_id, form), status=422 if not form.csrf_token.errors else 400)


@bp.post("/profitability/rule")
@role_required("admin")
def tier_rule():
    form = _rule_form(request.form)
    if form.validate_on_submit():
        try:
            service.save_rule(current_user, form.to_data(), utc_now())
        except ValidationFailed as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            db.session.commit()
            flash(_("Tier rule saved. Tiers follow it from the next nightly run."), "success")
            return redirect(url_for("insights.profitability"))
    return _render(rule_form=form, status=422 if not form.csrf_token.errors else 400)
