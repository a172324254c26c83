"""Forms and words of the admins' follow-up pages: templates, rules, the outbox filter."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from wtforms import BooleanField, IntegerField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from crm.followups.models import LANGUAGES, OUTBOX_STATUSES, SURVEY_KINDS, TEMPLATE_KINDS, TRIGGERS
from crm.followups.render import BODY_MAX, SUBJECT_MAX
from crm.forms import BaseForm
from crm.labels import choices, label
from crm.moments.models import OUTCOMES

# crm/labels.py holds the shared groups; these are only shown on the follow-up pages.
WORDS = {
    "template_kind": {"transactional": _l("Transactional"), "marketing": _l("Marketing")},
    "survey": {"nps": _l("NPS survey (0–10)"), "csat": _l("CSAT survey (1–5)"),
               "ces": _l("Customer effort survey (1–7)")},
    "trigger": {
        "after_moment": _l("After a contact"),
        "before_renewal": _l("Before the renewal date"),
        "inactivity": _l("After a quiet spell"),
        "compensation_issued": _l("When a compensation is issued"),
    },
    "outbox_status": {
        "pending": _l("Waiting"), "sending": _l("Sending"), "sent": _l("Sent"), "failed": _l("Failed"),
        "cancelled": _l("Cancelled"),
    },
}

# What each {{ variable }} holds, for the template form.
VARIABLE_HELP = {
    "customer_name": _l("The customer's full name."),
    "first_name": _l("The first word of the customer's name."),
    "company_name": _l("Your company's name."),
    "agent_name": _l("The name of the customer's account owner (your company's name when there is none)."),
    "moment_type": _l("The kind of contact the message follows (after a contact or a compensation)."),
    "moment_date": _l("The date of that contact."),
    "renewal_date": _l("The customer's renewal date (before-renewal rules only)."),
    "days_quiet": _l("How many days since the last contact (quiet-spell rules only)."),
    "compensation": _l("What the customer receives, such as a discount and its value (compensation rules only)."),
    "survey_url": _l("The single-use link to the survey (survey templates only)."),
    "unsubscribe_url": _l("The link to stop marketing email (marketing templates only)."),
}


def word(group: str, value) -> str:
    if value is None:
        return ""
    text = WORDS[group].get(value)
    return str(value) if text is None else str(text)


def word_choices(group: str, values) -> list[SelectChoice]:
    return [SelectChoice(v, word(group, v)) for v in values]


def describe_rule(rule) -> str:
    """A rule's trigger as a sentence: "3 business days after a contact of type Complaint…"."""
    days = rule.days
    if rule.trigger == "after_moment":
        type_name = rule.moment_type.name if rule.moment_type else "?"
        if rule.outcome:
            return ngettext("%(num)s business day after a contact of type %(type)s with outcome %(outcome)s",
                            "%(num)s business days after a contact of type %(type)s with outcome %(outcome)s",
                            days, type=type_name, outcome=label("outcome", rule.outcome))
        return ngettext("%(num)s business day after a contact of type %(type)s",
                        "%(num)s business days after a contact of type %(type)s", days, type=type_name)
    if rule.trigger == "before_renewal":
        return ngettext("%(num)s day before the customer's renewal date",
                        "%(num)s days before the customer's renewal date", days)
    if rule.trigger == "inactivity":
        return ngettext("After %(num)s day without any contact", "After %(num)s days without any contact", days)
    return word("trigger", rule.trigger)


class TemplateForm(BaseForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=60)],
                       description=_l("Letters, digits, - and _: how rules, people and the API name it"))
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    kind = SelectField(_l("Kind"), description=_l("Marketing messages go only to customers who agreed to them "
                                                  "and carry an unsubscribe link"))
    survey = SelectField(_l("Survey"), validators=[Optional()])
    active = BooleanField(_l("In use"), default=True)
    subject_es = StringField(_l("Subject"), validators=[DataRequired(), Length(max=SUBJECT_MAX)])
    body_es = TextAreaField(_l("Body"), validators=[DataRequired(), Length(max=BODY_MAX)], render_kw={"rows": 10})
    subject_en = StringField(_l("Subject"), validators=[DataRequired(), Length(max=SUBJECT_MAX)])
    body_en = TextAreaField(_l("Body"), validators=[DataRequired(), Length(max=BODY_MAX)], render_kw={"rows": 10})

    def __init__(self, *args, template=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind.choices = word_choices("template_kind", TEMPLATE_KINDS)
        self.survey.choices = [SelectChoice("", _l("No survey"))] + word_choices("survey", SURVEY_KINDS)
        if template is not None and not self.is_submitted():
            self.survey.data = template.survey or ""
            for language in LANGUAGES:
                words = template.text_for(language)
                if words is not None:
                    self[f"subject_{language}"].data = words.subject
                    self[f"body_{language}"].data = words.body

    def to_data(self) -> dict:
        data = {name: self[name].data for name in ("code", "name", "kind", "active")}
        data["survey"] = self.survey.data or None
        for language in LANGUAGES:
            data[f"subject_{language}"] = self[f"subject_{language}"].data
            data[f"body_{language}"] = self[f"body_{language}"].data
        return data


class RuleForm(BaseForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    trigger = SelectField(_l("When"))
    template_id = SelectField(_l("Template"), coerce=int)
    moment_type_id = SelectField(_l("Contact type"), coerce=int,
                                 description=_l("Only for rules that follow a contact"))
    outcome = SelectField(_l("Contact outcome"), validators=[Optional()],
                          description=_l("Only for rules that follow a contact"))
    days = IntegerField(_l("Days"), default=1, validators=[InputRequired(), NumberRange(min=0, max=3650)],
                        description=_l("Business days after a contact; calendar days before a renewal "
                                       "or without contact"))
    active = BooleanField(_l("In use"), default=True)

    def __init__(self, *args, templates=(), moment_types=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.trigger.choices = word_choices("trigger", TRIGGERS)
        self.template_id.choices = [SelectChoice(t.id, f"{t.name} ({t.code})" if t.active else
                                                 f"{t.name} ({t.code}) — {_l('not in use')}") for t in templates]
        self.moment_type_id.choices = [SelectChoice(0, "—")] + [SelectChoice(m.id, m.name) for m in moment_types]
        self.outcome.choices = [SelectChoice("", _l("Any outcome"))] + choices("outcome", OUTCOMES)
        if self.moment_type_id.data is None:
            self.moment_type_id.data = 0
        if self.outcome.data is None:
            self.outcome.data = ""

    def to_data(self) -> dict:
        return {"name": self.name.data, "trigger": self.trigger.data, "template_id": self.template_id.data,
                "moment_type_id": self.moment_type_id.data or None, "outcome": self.outcome.data or None,
                "days": self.days.data, "active": self.active.data}


class OutboxFilterForm(BaseForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    status = SelectField(_l("Status"), validators=[Optional()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.status.choices = [SelectChoice("", _l("Any status"))] + word_choices("outbox_status", OUTBOX_STATUSES)
