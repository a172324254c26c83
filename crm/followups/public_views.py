"""The pages customers reach from an email, without logging in: the survey and unsubscribe.

The signed token in the URL is the authority. Each page speaks the language the
email was written in (the message's, or the customer's for unsubscribe), whatever
the browser asks for.
"""
from __future__ import annotations

from contextlib import nullcontext

from flask import current_app, make_response, render_template, request
from flask_babel import gettext as _
from sqlalchemy import select

from crm.domain import DomainError, NotFound, ValidationFailed
from crm.extensions import csrf, db
from crm.followups import services
from crm.followups.models import OutboxMessage
from crm.followups.outbox import language_of
from crm.followups.public_forms import SurveyForm
from crm.followups.render import read_survey_token
from crm.followups.views import bp
from crm.i18n import in_language
from crm.types import utc_now
from crm.web import apply_errors

ONE_CLICK = "One-Click"


def _link_problem(error: DomainError, language: str | None = None):
    """404 (not ours or tampered), 409 (already answered) or 410 (expired), as a page."""
    with in_language(language) if language else nullcontext():
        body = render_template("followups/link_problem.html", error=error, status=error.status,
                               company=current_app.config["CRM_COMPANY_NAME"])
    return make_response(body, error.status)


def _survey_language(token) -> str | None:
    """The language of the email a survey link came in, when the link is genuine."""
    key = read_survey_token(token) if isinstance(token, str) and len(token) < 500 else None
    if not key:
        return None
    return db.session.scalar(select(OutboxMessage.language).where(OutboxMessage.idempotency_key == key))


def _question(message: OutboxMessage) -> str:
    company = current_app.config["CRM_COMPANY_NAME"]
    if message.survey == "nps":
        return _("How likely are you to recommend %(company)s to a friend?", company=company)
    if message.survey == "ces":
        return _("%(company)s made it easy for me to handle my issue. How much do you agree?", company=company)
    return _("How satisfied are you with the service %(company)s gave you?", company=company)


@bp.route("/s/<token>", methods=["GET", "POST"])
def survey(token: str):
    """The question of one survey email; a POST records the answer once."""
    now = utc_now()
    try:
        message = services.survey_message(token, now)
    except DomainError as exc:
        return _link_problem(exc, None if isinstance(exc, NotFound) else _survey_language(token))
    language = message.language
    with in_language(language):
        form = SurveyForm(kind=message.survey)
        status = 200
        if request.method != "POST":  # GET and HEAD
            form.preselect(request.args.get("score"))
        elif form.validate_on_submit():
            try:
                services.answer_survey(token, {"score": form.score.data, "comment": form.comment.data or ""}, now)
            except ValidationFailed as exc:
                db.session.rollback()
                apply_errors(form, exc)
                status = 422
            except DomainError as exc:  # answered or expired in the meantime
                db.session.rollback()
                return _link_problem(exc, language)
            else:
                db.session.commit()
                return render_template("followups/survey_done.html",
                                       company=current_app.config["CRM_COMPANY_NAME"])
        else:
            status = 422
        body = render_template("followups/survey.html", form=form, message=message, question=_question(message),
                               company=current_app.config["CRM_COMPANY_NAME"])
    return make_response(body, status)


@bp.route("/u/<token>", methods=["GET", "POST"])
@csrf.exempt  # RFC 8058 one-click POSTs from mail clients carry no CSRF token: the signed URL authorises
def unsubscribe(token: str):
    """GET asks (mail scanners open links, so it changes nothing); POST unsubscribes, idempotently."""
    try:
        customer = services.customer_for_unsubscribe(token)
    except NotFound as exc:
        if request.method == "POST" and request.form.get("List-Unsubscribe") == ONE_CLICK:
            return make_response(exc.translated() + "\n", 404, {"Content-Type": "text/plain; charset=utf-8"})
        return _link_problem(exc)
    company = current_app.config["CRM_COMPANY_NAME"]
    with in_language(language_of(customer)):
        if request.method != "POST":  # GET and HEAD: link scanners and previews must change nothing
            return render_template("followups/unsubscribe.html", customer=customer, company=company, done=False)
        one_click = request.form.get("List-Unsubscribe") == ONE_CLICK
        services.unsubscribe(customer, utc_now(), how="one-click" if one_click else "page")
        db.session.commit()
        if one_click:
            text = _("You will receive no more marketing email from %(company)s.", company=company)
            return make_response(text + "\n", 200, {"Content-Type": "text/plain; charset=utf-8"})
        return render_template("followups/unsubscribe.html", customer=customer, company=company, done=True)
