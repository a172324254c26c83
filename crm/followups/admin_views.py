"""The admins' follow-up pages: templates (with a preview), rules, the outbox and the sent mail."""
from __future__ import annotations

import re
from collections import defaultdict

from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from crm.domain import N_, DomainError, NotFound
from crm.extensions import db
from crm.followups import mailbox, render, services
from crm.followups.forms import (
    VARIABLE_HELP,
    OutboxFilterForm,
    RuleForm,
    TemplateForm,
    describe_rule,
    word,
)
from crm.followups.models import LANGUAGES, OUTBOX_STATUSES, FollowUpRule, OutboxMessage
from crm.followups.rules import ALL_VARIABLES
from crm.followups.views import bp
from crm.forms import ActionForm
from crm.moments.catalog import list_moment_types
from crm.types import utc_now
from crm.web import act, apply_errors, page_arg, redirect_back, role_required

admin_required = role_required("admin")


def _page(page_name: str, status: int = 200, **context):
    return render_template(f"followups/admin/{page_name}", word=word, **context), status


# --- templates ---------------------------------------------------------------------

@bp.get("/admin/followups/templates")
@admin_required
def templates():
    return _page("templates.html", templates=services.list_templates(), languages=LANGUAGES)


def _preview_context(language: str) -> dict:
    return {**services.PREVIEW_BY_LANGUAGE[language], "company_name": current_app.config["CRM_COMPANY_NAME"]}


def _source_problem(source: str, context: dict) -> str | None:
    """Why this subject or body cannot be sent (translated), or None."""
    problem = services.source_problem(source, context)
    return problem.translated() if problem else None


def _render_problems(form: TemplateForm) -> dict[str, str]:
    problems = {}
    for language in LANGUAGES:
        context = _preview_context(language)
        for name in (f"subject_{language}", f"body_{language}"):
            source = form[name].data or ""
            problem = _source_problem(source, context) if source.strip() else None
            if problem:
                problems[name] = problem
    return problems


def _add_problems(form: TemplateForm, problems: dict[str, str]) -> None:
    for name, problem in problems.items():
        if not form[name].errors:
            form[name].errors = list(form[name].errors) + [problem]


def _previews(form: TemplateForm) -> list[dict]:
    """Each language's subject, text and HTML as a customer would get them, with sample values."""
    kind, survey = form.kind.data, form.survey.data or None
    previews = []
    for language in LANGUAGES:
        context = _preview_context(language)
        subject_source = form[f"subject_{language}"].data or ""
        body_source = form[f"body_{language}"].data or ""
        if not (subject_source.strip() or body_source.strip()) or form[f"subject_{language}"].errors \
                or form[f"body_{language}"].errors:
            continue
        subject = re.sub(r"\s*[\r\n]+\s*", " ", render.render_text(subject_source, context)).strip()
        body = render.render_text(body_source, context)
        built = render.build_message(
            key=f"preview:{form.code.data or ''}", to_address="ana.garcia@example.invalid",
            to_name=context["customer_name"], language=language, subject=subject, body=body,
            marketing=kind == "marketing",
            unsubscribe=context["unsubscribe_url"] if kind == "marketing" else None,
            survey=context["survey_url"] if survey else None)
        previews.append({"language": language, "subject": subject, "text": built.text, "html": built.html})
    return previews


@bp.route("/admin/followups/templates/new", methods=["GET", "POST"], defaults={"template_id": None})
@bp.route("/admin/followups/templates/<id:template_id>", methods=["GET", "POST"])
@admin_required
def edit_template(template_id: int | None):
    template = services.get_template(template_id) if template_id else None
    form = TemplateForm(obj=template, template=template)
    previews = None
    if request.method == "POST" and "preview" in request.form:
        # Nothing is saved: show what the customer would read, or what stops it.
        _add_problems(form, _render_problems(form))
        previews = _previews(form)
    elif form.validate_on_submit():
        # The service refuses what would fail when a message is due (it renders once).
        try:
            saved = services.save_template(current_user, form.to_data(), utc_now(), template)
        except DomainError as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            db.session.commit()
            flash(_("Template “%(name)s” saved.", name=saved.name), "success")
            return redirect(url_for("followups.templates"))
    failed = request.method == "POST" and (any(field.errors for field in form) or bool(form.form_errors))
    return _page("template_form.html", 400 if failed else 200, form=form, template=template,
                 previews=previews, languages=LANGUAGES,
                 variables=[(name, VARIABLE_HELP.get(name, "")) for name in sorted(ALL_VARIABLES)])


# --- rules ---------------------------------------------------------------------------

def _rule_counts() -> dict[int, dict[str, int]]:
    """How many messages each rule has written, per status: one grouped query for the page."""
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for rule_id, status, count in db.session.execute(
            select(OutboxMessage.rule_id, OutboxMessage.status, func.count())
            .where(OutboxMessage.rule_id.is_not(None)).group_by(OutboxMessage.rule_id, OutboxMessage.status)):
        counts[rule_id][status] = count
    return counts


@bp.get("/admin/followups/rules")
@admin_required
def rules():
    return _page("rules.html", rules=services.list_rules(), counts=_rule_counts(), statuses=OUTBOX_STATUSES,
                 describe=describe_rule)


@bp.route("/admin/followups/rules/new", methods=["GET", "POST"], defaults={"rule_id": None})
@bp.route("/admin/followups/rules/<id:rule_id>", methods=["GET", "POST"])
@admin_required
def edit_rule(rule_id: int | None):
    rule = services.get_rule(rule_id) if rule_id else None
    form = RuleForm(obj=rule, templates=services.list_templates(),
                    moment_types=list_moment_types(include_inactive=True))
    if form.validate_on_submit():
        try:
            saved = services.save_rule(current_user, form.to_data(), utc_now(), rule)
        except DomainError as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            db.session.commit()
            flash(_("Rule “%(name)s” saved.", name=saved.name), "success")
            return redirect(url_for("followups.rules"))
    status = 400 if request.method == "POST" else 200
    return _page("rule_form.html", status, form=form, rule=rule, describe=describe_rule)


# --- the outbox ------------------------------------------------------------------------

@bp.get("/admin/followups/outbox")
@admin_required
def outbox():
    form = OutboxFilterForm(formdata=MultiDict(request.args))
    status = None
    if form.validate():
        status = form.status.data or None
    else:
        flash(_("Check the filters."), "error")
    page = services.list_messages(status=status, staff_alerts=True, page=page_arg())
    rule_ids = {m.rule_id for m in page.items if m.rule_id}
    rule_names = dict(db.session.execute(
        select(FollowUpRule.id, FollowUpRule.name).where(FollowUpRule.id.in_(rule_ids))).all()) if rule_ids else {}
    return _page("outbox.html", form=form, page=page, counts=services.outbox_counts(), status=status,
                 rule_names=rule_names)


@bp.get("/admin/followups/outbox/<id:message_id>")
@admin_required
def message(message_id: int):
    found = services.get_message(message_id)
    return _page("message.html", message=found, mail=mailbox.parse_message(found.message))


def _message_action(message_id: int, action, success: str):
    found = services.get_message(message_id)
    if ActionForm().validate_on_submit():
        act(lambda: action(current_user, found, utc_now()), success)
    return redirect_back(url_for("followups.message", message_id=message_id))


@bp.post("/admin/followups/outbox/<id:message_id>/retry")
@admin_required
def retry(message_id: int):
    return _message_action(message_id, services.retry_message, _("The message will be sent again."))


@bp.post("/admin/followups/outbox/<id:message_id>/cancel")
@admin_required
def cancel_admin(message_id: int):
    return _message_action(message_id, services.cancel_message, _("Message cancelled."))


# --- sent mail (the file transport) --------------------------------------------------------

def _smtp_in_use() -> bool:
    return bool(current_app.config.get("CRM_SMTP_URL"))


@bp.get("/admin/followups/mail")
@admin_required
def mail():
    if _smtp_in_use():
        return _page("mail.html", smtp=True, page=None, folder=None)
    folder = current_app.config["CRM_MAIL_DIR"]
    return _page("mail.html", smtp=False, page=mailbox.list_mail(folder, page_arg()), folder=folder)


@bp.get("/admin/followups/mail/<name>")
@admin_required
def mail_file(name: str):
    if _smtp_in_use():
        raise NotFound(N_("no such email"))
    raw = mailbox.mail_file(current_app.config["CRM_MAIL_DIR"], name)
    if request.args.get("download"):
        return Response(raw, mimetype="message/rfc822",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return _page("mail_file.html", name=name, mail=mailbox.parse_message(raw))

