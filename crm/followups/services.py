"""Follow-up services: templates, rules, scheduling, unsubscribe, surveys, the outbox as people see it.

Services take the acting user and `now`, flush and never commit.
"""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.orm import joinedload, selectinload

from crm import audit
from crm.auth.models import User
from crm.calendars.services import arithmetic, default_calendar
from crm.customers.models import Customer
from crm.domain import N_, Cleaner, Conflict, DomainError, Forbidden, Gone, NotFound, ValidationFailed
from crm.extensions import db
from crm.followups import outbox
from crm.followups.models import (
    LANGUAGES,
    OUTBOX_STATUSES,
    SURVEY_KINDS,
    TEMPLATE_KINDS,
    TRIGGERS,
    FollowUpRule,
    MessageTemplate,
    OutboxMessage,
    SurveyResponse,
    TemplateText,
)
from crm.followups.render import (
    BODY_MAX,
    SUBJECT_MAX,
    TemplateProblem,
    read_survey_token,
    read_unsubscribe_token,
    render_text,
    used_variables,
)
from crm.followups.rules import (
    ALL_VARIABLES,
    SCORE_RANGE,
    emotion_for,
    is_detractor,
    missing_variables,
    score_in_range,
)
from crm.insights import rollup
from crm.moments.models import OUTCOMES, Moment, MomentType
from crm.pagination import Page, paginate
from crm.queries import get_or_raise, is_id, taken_by_other
from crm.webhooks import events as webhook_events

CODE_MAX = 60
NAME_MAX = 120
COMMENT_MAX = 2000
MAX_RULE_DAYS = 3650
# How far ahead a person may schedule a one-off message.
MAX_AHEAD = timedelta(days=366)
PLAN_CHUNK = 500


# --- templates ------------------------------------------------------------------------

def get_template(template_id) -> MessageTemplate:
    return get_or_raise(MessageTemplate, template_id, N_("no such template"))


def template_by_code(code) -> MessageTemplate:
    template = None
    if isinstance(code, str) and code and len(code) <= CODE_MAX and "\x00" not in code:
        template = db.session.scalar(select(MessageTemplate).where(MessageTemplate.code == code))
    if template is None:
        raise NotFound(N_("no such template"), "template")
    return template


def list_templates() -> list[MessageTemplate]:
    return list(db.session.scalars(
        select(MessageTemplate).options(selectinload(MessageTemplate.texts)).order_by(MessageTemplate.code)))


def one_off_templates() -> list[MessageTemplate]:
    """Active templates a person can send by hand: those needing no contact, renewal or
    compensation to fill their variables."""
    return [t for t in list_templates() if t.active and not missing_variables(
        _template_used(t), "one_off", kind=t.kind, survey=t.survey)]


def source_problem(source: str, context: dict | None = None) -> DomainError | None:
    """Why a subject or body cannot be sent, or None: bad syntax, a variable no message
    has, or a failure when it runs with sample values (an unknown test or filter, a
    macro calling itself: mistakes that only show when Jinja runs)."""
    try:
        unknown = sorted(used_variables(source) - ALL_VARIABLES)
        if unknown:
            return DomainError(N_("unknown variable %(names)s; available: %(available)s"),
                               names=", ".join(unknown), available=", ".join(sorted(ALL_VARIABLES)))
        render_text(source, context or {**PREVIEW_VALUES, "company_name": "Fideliza"})
    except TemplateProblem as problem:
        return DomainError(problem.message, **problem.params)
    return None


def save_template(actor: User, data: dict, now: datetime, template: MessageTemplate | None = None
                  ) -> MessageTemplate:
    """Create or change a template; both languages' subject and body are required.

    A template must not use a variable that a rule sending it cannot fill: that is
    refused here rather than discovered when the message is due.
    """
    c = Cleaner()
    code = c.text("code", data.get("code"), max_len=CODE_MAX, required=True)
    if code and not all(ch.isascii() and (ch.isalnum() or ch in "_-") for ch in code):
        c.fail("code", N_("use letters, digits, - and _ only"))
    elif code and taken_by_other(MessageTemplate, MessageTemplate.code == code, template):
        c.fail("code", N_("another template has this code"))
    name = c.text("name", data.get("name"), max_len=NAME_MAX, required=True)
    kind = c.choice("kind", data.get("kind"), TEMPLATE_KINDS)
    survey = c.choice("survey", data.get("survey") or None, SURVEY_KINDS, required=False)
    active = data.get("active", True)
    if not isinstance(active, bool):
        c.fail("active", N_("must be true or false"))
    texts = {}
    used: set[str] = set()
    for language in LANGUAGES:
        subject = c.text(f"subject_{language}", data.get(f"subject_{language}"), max_len=SUBJECT_MAX,
                         required=True)
        body = c.text(f"body_{language}", data.get(f"body_{language}"), max_len=BODY_MAX, required=True,
                      multiline=True)
        body_used: frozenset[str] = frozenset()
        for field, source in ((f"subject_{language}", subject), (f"body_{language}", body)):
            problem = source_problem(source) if source else None
            if problem is not None:
                c.fail(field, problem.message, **problem.params)
            elif source:
                used |= used_variables(source)
                body_used = used_variables(source) if field.startswith("body") else body_used
        if survey and body and "survey_url" not in body_used:
            c.fail(f"body_{language}", N_("a survey template must include {{ survey_url }}"))
        texts[language] = (subject, body)
    if kind and "unsubscribe_url" in used and kind != "marketing":
        c.fail("kind", N_("only marketing messages carry an unsubscribe link"))
    if "survey_url" in used and not survey:
        c.fail("survey", N_("the text uses {{ survey_url }}: choose the survey it links to"))
    if template is not None and kind and not c.errors:
        for rule in db.session.scalars(select(FollowUpRule).where(FollowUpRule.template_id == template.id)):
            missing = missing_variables(used, rule.trigger, kind=kind, survey=survey)
            if missing:
                c.fail("body_es", N_("rule “%(rule)s” cannot fill %(names)s"), rule=rule.name,
                       names=", ".join(missing))
    c.check()
    creating = template is None
    if creating:
        template = MessageTemplate(created_at=now)
        db.session.add(template)
    template.code, template.name, template.kind, template.survey = code, name, kind, survey
    template.active = active
    template.updated_at = now
    existing = {text_.language: text_ for text_ in template.texts}
    for language, (subject, body) in texts.items():
        row = existing.get(language)
        if row is None:
            template.texts.append(TemplateText(language=language, subject=subject, body=body))
        else:
            row.subject, row.body = subject, body
    db.session.flush()
    audit.record(actor, "template.created" if creating else "template.updated", "template", template.id, now)
    return template


PREVIEW_VALUES = {
    "customer_name": "Ana García López", "first_name": "Ana", "agent_name": "Lucía Romero",
    "moment_type": "Reclamación", "moment_date": "16 de noviembre de 2026", "renewal_date": "1 de enero de 2027",
    "days_quiet": "90", "compensation": "Descuento: 10,00 €",
    "survey_url": "https://example.invalid/s/preview", "unsubscribe_url": "https://example.invalid/u/preview",
}
# What a template shows in each language's preview: dates and labels as that customer reads them.
PREVIEW_BY_LANGUAGE = {
    "es": PREVIEW_VALUES,
    "en": {**PREVIEW_VALUES, "moment_type": "Complaint", "moment_date": "November 16, 2026",
           "renewal_date": "January 1, 2027", "compensation": "Discount: €10.00"},
}


# --- rules ----------------------------------------------------------------------------

def get_rule(rule_id) -> FollowUpRule:
    return get_or_raise(FollowUpRule, rule_id, N_("no such rule"))


def list_rules() -> list[FollowUpRule]:
    return list(db.session.scalars(select(FollowUpRule).options(
        joinedload(FollowUpRule.template), joinedload(FollowUpRule.moment_type)).order_by(FollowUpRule.id)))


def _template_used(template: MessageTemplate) -> set[str]:
    used: set[str] = set()
    for text_ in template.texts:
        used |= used_variables(text_.subject) | used_variables(text_.body)
    return used


def save_rule(actor: User, data: dict, now: datetime, rule: FollowUpRule | None = None) -> FollowUpRule:
    c = Cleaner()
    name = c.text("name", data.get("name"), max_len=NAME_MAX, required=True)
    trigger = c.choice("trigger", data.get("trigger"), TRIGGERS)
    template = None
    if data.get("template_id") in (None, ""):
        c.fail("template_id", N_("is required"))
    else:
        template = db.session.get(MessageTemplate, data["template_id"]) if is_id(data["template_id"]) else None
        if template is None:
            c.fail("template_id", N_("no such template"))
    days = data.get("days", 0)
    if not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= MAX_RULE_DAYS:
        c.fail("days", N_("must be a whole number from %(min)s to %(max)s"), min=0, max=MAX_RULE_DAYS)
    moment_type_id = data.get("moment_type_id") or None
    outcome = data.get("outcome") or None
    if trigger == "after_moment":
        if moment_type_id is None:
            c.fail("moment_type_id", N_("is required"))
        elif not is_id(moment_type_id) or db.session.get(MomentType, moment_type_id) is None:
            c.fail("moment_type_id", N_("no such moment type"))
        c.choice("outcome", outcome, OUTCOMES, required=False)
    else:
        moment_type_id = outcome = None
    if trigger in ("before_renewal", "inactivity") and days == 0:
        c.fail("days", N_("must be at least one day for this trigger"))
    active = data.get("active", True)
    if not isinstance(active, bool):
        c.fail("active", N_("must be true or false"))
    if template is not None and trigger:
        missing = missing_variables(_template_used(template), trigger, kind=template.kind, survey=template.survey)
        if missing:
            c.fail("template_id", N_("this template uses %(names)s, which this trigger cannot fill"),
                   names=", ".join(missing))
    c.check()
    creating = rule is None
    if creating:
        rule = FollowUpRule(created_at=now)
        db.session.add(rule)
    rule.name, rule.trigger, rule.template_id, rule.days = name, trigger, template.id, days
    rule.moment_type_id, rule.outcome, rule.active = moment_type_id, outcome, active
    rule.last_error = None
    db.session.flush()
    audit.record(actor, "rule.created" if creating else "rule.updated", "rule", rule.id, now)
    return rule


def _rule_failed(rule: FollowUpRule, problem: TemplateProblem) -> None:
    """A rule whose template cannot render says so on the rules page; its cause still stands."""
    rule.last_error = str(problem)[:500]


# --- scheduling from events -----------------------------------------------------------

def schedule_after_moment(moment: Moment, now: datetime) -> list[int]:
    """Messages the rules owe a contact just logged; written in the same transaction."""
    rules = list(db.session.scalars(select(FollowUpRule).options(
        joinedload(FollowUpRule.template).selectinload(MessageTemplate.texts)).where(
        FollowUpRule.trigger == "after_moment", FollowUpRule.active.is_(True),
        FollowUpRule.moment_type_id == moment.moment_type_id)))
    rules = [r for r in rules if r.outcome in (None, moment.outcome) and r.template.active]
    if not rules:
        return []
    customer = moment.customer
    moment_type = moment.moment_type
    calendar = arithmetic(moment_type.calendar if moment_type.calendar_id else default_calendar())
    drafts = []
    for rule in rules:
        if outbox.refusal(customer, rule.template):
            continue
        due = calendar.after_open_days(max(moment.occurred_at, now), rule.days)
        drafts.append(outbox.Draft(
            key=f"rule:{rule.id}:moment:{moment.id}", customer=customer, template=rule.template, due_at=due,
            variables={"moment_type": moment_type.name, "moment_date": moment.occurred_at},
            rule_id=rule.id, moment_id=moment.id))
    by_key = {d.key: d for d in drafts}
    return outbox.write(drafts, now, on_problem=lambda d, p: _rule_failed(
        next(r for r in rules if r.id == by_key[d.key].rule_id), p))


def schedule_compensation_notices(compensations, now: datetime) -> list[int]:
    """The compensation_issued rules' messages for compensations just issued."""
    from crm.compensations.services import describe

    compensations = list(compensations)
    rules = [r for r in db.session.scalars(select(FollowUpRule).options(
        joinedload(FollowUpRule.template).selectinload(MessageTemplate.texts)).where(
        FollowUpRule.trigger == "compensation_issued", FollowUpRule.active.is_(True))) if r.template.active]
    if not rules or not compensations:
        return []
    drafts = []
    for compensation in compensations:
        customer = compensation.customer
        moment = compensation.moment
        for rule in rules:
            if outbox.refusal(customer, rule.template):
                continue
            drafts.append(outbox.Draft(
                key=f"rule:{rule.id}:compensation:{compensation.id}", customer=customer, template=rule.template,
                due_at=now, rule_id=rule.id, compensation_id=compensation.id,
                moment_id=moment.id if moment else None,
                variables={"compensation": lambda comp=compensation: describe(comp),
                           "moment_type": moment.moment_type.name if moment else "",
                           "moment_date": moment.occurred_at if moment else None}))
    return outbox.write(drafts, now, on_problem=lambda d, p: _rule_failed(db.session.get(FollowUpRule, d.rule_id), p))


# --- planning (scheduler) -------------------------------------------------------------

def _eligible(template: MessageTemplate):
    conditions = [Customer.email.is_not(None), Customer.email != ""]
    if template.kind == "marketing":
        conditions += [Customer.marketing_consent.is_(True), Customer.unsubscribed_at.is_(None)]
    return conditions


def plan_followups(now: datetime, *, limit: int = 5000) -> int:
    """Write the renewal and quiet-customer messages that are due by `now`.

    Each run writes at most `limit` messages (the next run continues), so a first run
    over a large customer base stays a bounded job. Returns how many it wrote.
    """
    written = 0
    rules = list(db.session.scalars(select(FollowUpRule).options(
        joinedload(FollowUpRule.template).selectinload(MessageTemplate.texts)).where(
        FollowUpRule.trigger.in_(("before_renewal", "inactivity")), FollowUpRule.active.is_(True))
        .order_by(FollowUpRule.id)))
    calendar = arithmetic(default_calendar())
    due = calendar.next_open(now)
    for rule in rules:
        if not rule.template.active:
            continue
        after = 0  # a cursor, so customers who are skipped are not read again
        while written < limit:
            size = min(PLAN_CHUNK, limit - written)
            batch = _candidates(rule, now, size, after)
            if not batch:
                break
            after = batch[-1].id
            drafts = [_plan_draft(rule, customer, now, due) for customer in batch
                      if not outbox.refusal(customer, rule.template)]
            written += len(outbox.write(drafts, now, on_problem=lambda d, p, rule=rule: _rule_failed(rule, p)))
            if rule.last_error or len(batch) < size:
                break
    db.session.flush()
    return written


def _candidates(rule: FollowUpRule, now: datetime, size: int, after: int) -> list[Customer]:
    sent_before = select(OutboxMessage.id).where(
        OutboxMessage.rule_id == rule.id, OutboxMessage.customer_id == Customer.id)
    query = select(Customer).options(joinedload(Customer.owner)).where(Customer.id > after,
                                                                      *_eligible(rule.template))
    if rule.trigger == "before_renewal":
        today = now.astimezone(timezone.utc).date()
        query = query.where(Customer.renewal_date.is_not(None), Customer.renewal_date >= today,
                            Customer.renewal_date <= today + timedelta(days=rule.days),
                            # once per renewal: nothing from this rule since its window opened
                            ~exists(sent_before.where(
                                OutboxMessage.created_at >= now - timedelta(days=rule.days + 1))))
    else:
        query = query.where(Customer.last_activity_at.is_not(None),
                            Customer.last_activity_at <= now - timedelta(days=rule.days),
                            Customer.stage != "prospect",
                            # once per quiet spell: nothing from this rule since the last contact
                            ~exists(sent_before.where(OutboxMessage.created_at >= Customer.last_activity_at)))
    return list(db.session.scalars(query.order_by(Customer.id).limit(size)))


def _plan_draft(rule: FollowUpRule, customer: Customer, now: datetime, due: datetime) -> outbox.Draft:
    if rule.trigger == "before_renewal":
        key = f"rule:{rule.id}:renewal:{customer.id}:{customer.renewal_date.isoformat()}"
        variables = {"renewal_date": customer.renewal_date}
    else:
        key = f"rule:{rule.id}:quiet:{customer.id}:{customer.last_activity_at.isoformat()}"
        variables = {"days_quiet": (now - customer.last_activity_at).days}
    return outbox.Draft(key=key, customer=customer, template=rule.template, due_at=due, variables=variables,
                        rule_id=rule.id)


# --- one-off follow-ups ---------------------------------------------------------------

def schedule_followup(actor: User, data: dict, now: datetime) -> OutboxMessage:
    """A person schedules one message for one customer (due now when no instant is given)."""
    c = Cleaner()
    customer = template = None
    if data.get("customer_id") in (None, ""):
        c.fail("customer_id", N_("is required"))
    else:
        customer = db.session.get(Customer, data["customer_id"]) if is_id(data["customer_id"]) else None
        if customer is None:
            c.fail("customer_id", N_("no such customer"))
    try:
        template = template_by_code(data.get("template"))
        if not template.active:
            c.fail("template", N_("this template is no longer in use"))
    except NotFound:
        c.fail("template", N_("no such template"))
    due_at = data.get("due_at") or now
    if not isinstance(due_at, datetime) or due_at.tzinfo is None:
        c.fail("due_at", N_("must be a date and time with its time zone"))
    elif not (now - timedelta(minutes=5) <= due_at <= now + MAX_AHEAD):
        c.fail("due_at", N_("must be between now and a year from now"))
    if customer is not None and template is not None:
        reason = outbox.refusal(customer, template)
        if reason:
            c.fail("customer_id", reason)
        else:
            missing = missing_variables(_template_used(template), "one_off", kind=template.kind,
                                        survey=template.survey)
            if missing:
                c.fail("template", N_("this template needs %(names)s, which only a rule can fill"),
                       names=", ".join(missing))
    c.check()
    key = f"manual:{uuid.uuid4().hex}"
    draft = outbox.Draft(key=key, customer=customer, template=template, due_at=max(due_at, now).astimezone(
        timezone.utc), created_by_id=actor.id)
    try:
        ids = outbox.write([draft], now)
    except TemplateProblem as problem:
        raise ValidationFailed({"template": DomainError(problem.message, "template", **problem.params)}) from None
    audit.record(actor, "followup.scheduled", "customer", customer.id, now, template=template.code)
    return db.session.get(OutboxMessage, ids[0])


def get_message(message_id) -> OutboxMessage:
    return get_or_raise(OutboxMessage, message_id, N_("no such message"))


def cancel_message(actor: User, message: OutboxMessage, now: datetime) -> OutboxMessage:
    """Stop a message that has not left yet."""
    if message.user_id is not None and not actor.has_role("admin"):
        raise Forbidden(N_("only admins manage staff alerts"))
    if message.status not in ("pending", "failed"):
        raise Conflict(N_("only messages that have not been sent can be cancelled"))
    cancel_rows(OutboxMessage.id == message.id, now, f"cancelled by {actor.name}")
    db.session.refresh(message)
    audit.record(actor, "followup.cancelled", "message", message.id, now)
    return message


def retry_message(actor: User, message: OutboxMessage, now: datetime) -> OutboxMessage:
    """An admin sends a failed message again, now, with a fresh count of attempts."""
    if not actor.has_role("admin"):
        raise Forbidden(N_("only admins retry messages"))
    if message.status != "failed":
        raise Conflict(N_("only failed messages can be retried"))
    if message.kind == "marketing" and message.customer is not None and outbox.refusal(
            message.customer, message.template or MessageTemplate(kind="marketing")):
        raise Conflict(N_("the customer no longer accepts marketing email"))
    message.status, message.attempts, message.due_at = "pending", 0, now
    db.session.flush()
    audit.record(actor, "followup.retried", "message", message.id, now)
    return message


def cancel_rows(condition, now: datetime, reason: str) -> int:
    result = db.session.execute(update(OutboxMessage).where(
        condition, OutboxMessage.status.in_(("pending", "failed", "sending"))).values(
        status="cancelled", cancelled_at=now, claimed_by=None, lease_until=None, last_error=reason),
        execution_options={"synchronize_session": False})
    return result.rowcount


def list_messages(*, customer_id=None, status=None, page: int = 1, per_page: int = 25,
                  staff_alerts: bool = False) -> Page:
    """Messages newest due first. Staff alerts (to supervisors) are left out unless asked for."""
    query = select(OutboxMessage).options(joinedload(OutboxMessage.template), joinedload(OutboxMessage.customer))
    if customer_id is not None:
        query = query.where(OutboxMessage.customer_id == customer_id)
    if not staff_alerts:
        query = query.where(OutboxMessage.user_id.is_(None))
    if status is not None:
        if status not in OUTBOX_STATUSES:
            raise ValidationFailed({"status": DomainError(N_("must be one of: %(choices)s"), "status",
                                                          choices=", ".join(OUTBOX_STATUSES))})
        query = query.where(OutboxMessage.status == status)
    order = (OutboxMessage.due_at.desc(), OutboxMessage.id.desc())
    return paginate(query.order_by(*order), page, per_page)


def outbox_counts() -> dict[str, int]:
    counts = dict.fromkeys(OUTBOX_STATUSES, 0)
    counts.update(db.session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
    return counts


# --- unsubscribe ----------------------------------------------------------------------

def customer_for_unsubscribe(token: str) -> Customer:
    customer_id = read_unsubscribe_token(token) if isinstance(token, str) and len(token) < 500 else None
    customer = db.session.get(Customer, customer_id) if customer_id else None
    if customer is None:
        raise NotFound(N_("this unsubscribe link is not valid"))
    return customer


def unsubscribe(customer: Customer, now: datetime, *, how: str) -> int:
    """The customer says stop: no marketing email is written or sent after this.

    Returns how many waiting messages were cancelled. Idempotent.
    """
    if customer.unsubscribed_at is None:
        customer.unsubscribed_at = now
        customer.marketing_consent = False
        customer.updated_at = now
        audit.record(None, "customer.unsubscribed", "customer", customer.id, now, how=how)
    cancelled = cancel_rows(and_(OutboxMessage.customer_id == customer.id, OutboxMessage.kind == "marketing"),
                             now, "the customer unsubscribed")
    db.session.flush()
    return cancelled


# --- surveys --------------------------------------------------------------------------

def survey_message(token, now: datetime) -> OutboxMessage:
    """The message a survey link belongs to, if the link is genuine, unused and in date."""
    from flask import current_app

    key = read_survey_token(token) if isinstance(token, str) and len(token) < 500 else None
    message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == key)) if key else None
    if message is None or not message.survey or message.customer_id is None:
        raise NotFound(N_("this survey link is not valid"))
    if db.session.scalar(select(SurveyResponse.id).where(SurveyResponse.outbox_id == message.id)):
        raise Conflict(N_("this survey has already been answered: thank you"))
    valid_for = timedelta(days=current_app.config["CRM_SURVEY_DAYS"])
    if now > (message.sent_at or message.due_at) + valid_for:
        raise Gone(N_("this survey link has expired"))
    return message


def answer_survey(token, data: dict, now: datetime) -> SurveyResponse:
    """Record the answer, set the contact's emotion to the customer's own, and act on detractors."""
    message = survey_message(token, now)
    c = Cleaner()
    score = data.get("score")
    if isinstance(score, str) and len(score.strip()) <= 3 and re.fullmatch(r"-?[0-9]+", score.strip()):
        score = int(score)
    if score in (None, ""):
        c.fail("score", N_("choose a score"))
    elif not score_in_range(message.survey, score):
        low, high = SCORE_RANGE[message.survey]
        c.fail("score", N_("must be a whole number from %(min)s to %(max)s"), min=low, max=high)
    comment = c.text("comment", data.get("comment"), max_len=COMMENT_MAX, multiline=True) or ""
    c.check()
    response = SurveyResponse(outbox_id=message.id, customer_id=message.customer_id, moment_id=message.moment_id,
                              kind=message.survey, score=score, comment=comment, answered_at=now)
    db.session.add(response)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except Exception:
        # Two submissions at once: the unique answer per message decides.
        raise Conflict(N_("this survey has already been answered: thank you")) from None
    if message.moment_id is not None:
        rollup.mark_moments([message.moment_id])
        db.session.execute(update(Moment).where(Moment.id == message.moment_id).values(
            emotion=emotion_for(message.survey, score)), execution_options={"synchronize_session": False})
    _detractor(response, now)
    db.session.flush()
    webhook_events.survey_answered(response, now)
    return response


def _detractor(response: SurveyResponse, now: datetime) -> None:
    """The lifecycle rules see the answer at once (rule "survey_detractor" moves a detractor
    at risk, "promoter" a promoter who recommends us), and a detractor alerts supervisors
    whether or not the rule is on."""
    from crm.customers.automation import evaluate_customer

    evaluate_customer(response.customer_id, now)
    if is_detractor(response.kind, response.score):
        alert_supervisors(db.session.get(Customer, response.customer_id), response, now)


def alert_supervisors(customer: Customer, response: SurveyResponse, now: datetime) -> list[int]:
    """Email the supervisors of the customer's owner's team (every supervisor when
    that team has none) about a detractor answer."""
    from crm.followups.alerts import detractor_alert_rows

    query = select(User).where(User.role == "supervisor", User.active.is_(True))
    owner = customer.owner
    team_supervisors = []
    if owner is not None and owner.team_id is not None:
        team_supervisors = list(db.session.scalars(query.where(User.team_id == owner.team_id)))
    supervisors = team_supervisors or list(db.session.scalars(query))
    return outbox.insert_rows(detractor_alert_rows(customer, response, supervisors, now))
