from decimal import Decimal

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import TextInput

from crm.admin.hours import DateListField, WeeklyHoursField, country_choices
from crm.auth.models import ROLES, TEAM_KINDS
from crm.compensations.models import KINDS
from crm.customers.lifecycle import TIERS
from crm.forms import BaseForm, LocalDecimalField
from crm.labels import choices
from crm.moments.catalog import OBJECTIVE_LABELS
from crm.moments.models import BLUEPRINT_LANES, CHANNELS, OBJECTIVE_METRICS, PHASES

MAX_MONEY = 1000000


def money_field(label, description=None, required=False) -> LocalDecimalField:
    """An amount typed as text, so a decimal comma ("9,90") reaches LocalDecimalField intact:
    a number input would drop it in browsers that expect a point."""
    return LocalDecimalField(label, places=2, description=description, widget=TextInput(),
                             render_kw={"inputmode": "decimal", "autocomplete": "off"},
                             validators=[InputRequired() if required else Optional(),
                                         NumberRange(min=0, max=MAX_MONEY)])


LANE_LABELS = {
    "physical_evidence": _l("Physical evidence"),
    "customer_action": _l("Customer actions"),
    "frontstage_action": _l("Frontstage actions"),
    "backstage_action": _l("Backstage actions"),
    "support_process": _l("Support processes"),
}


class UserForm(BaseForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    email = StringField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    role = SelectField(_l("Role"))
    team_id = SelectField(_l("Team"), coerce=int)
    password = PasswordField(_l("Password"), validators=[Optional(), Length(min=8, max=200)])
    active = BooleanField(_l("Active"), default=True)

    def __init__(self, *args, teams=(), creating=True, **kwargs):
        super().__init__(*args, **kwargs)
        self.role.choices = choices("role", ROLES)
        self.team_id.choices = [SelectChoice(0, "—")] + [SelectChoice(t.id, t.name) for t in teams]
        if creating:
            self.password.validators = [DataRequired(), Length(min=8, max=200)]

    def to_data(self) -> dict:
        data = {"name": self.name.data, "email": self.email.data, "role": self.role.data,
                "team_id": self.team_id.data or None, "active": self.active.data}
        if self.password.data:
            data["password"] = self.password.data
        return data


class TeamForm(BaseForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    kind = SelectField(_l("Kind"))
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=2000)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind.choices = choices("team_kind", TEAM_KINDS)


class MomentTypeForm(BaseForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=40)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    phase = SelectField(_l("Journey phase"))
    channel = SelectField(_l("Channel"))
    team_id = SelectField(_l("Responsible team"), coerce=int)
    owner_role = SelectField(_l("Owner role"))
    calendar_id = SelectField(_l("Business calendar"), coerce=int,
                              description=_l("Deadlines count only the hours this calendar is open"))
    warn_share = IntegerField(_l("Warn at (percent of the allowed time)"), default=75,
                              validators=[Optional(), NumberRange(min=1, max=100)],
                              description=_l("A commitment is flagged at risk once this share of its time has passed"))
    cost = LocalDecimalField(_l("Cost per occurrence"), places=2,
                        validators=[Optional(), NumberRange(min=0, max=1000000)])
    objective = TextAreaField(_l("Objective"), validators=[Optional(), Length(max=4000)])
    objective_metric = SelectField(_l("Measured by"), validators=[Optional()],
                                   description=_l("The figure the journey map compares with the target"))
    # The range depends on the metric (emotion −2 to 2, percentages 0 to 100): the service checks it.
    objective_target = LocalDecimalField(_l("Target (at least)"), places=2, validators=[Optional()],
                                         description=_l("Average emotion from -2 to 2, or a percentage"))
    # not `process`: that name is a method of every WTForms form
    internal_process = TextAreaField(_l("Internal process"), validators=[Optional(), Length(max=4000)])
    participants = TextAreaField(_l("Participants"), validators=[Optional(), Length(max=4000)],
                                 description=_l("One per line: who: what they do"))
    physical_evidence = TextAreaField(LANE_LABELS["physical_evidence"], validators=[Optional(), Length(max=4000)])
    customer_action = TextAreaField(LANE_LABELS["customer_action"], validators=[Optional(), Length(max=4000)])
    frontstage_action = TextAreaField(LANE_LABELS["frontstage_action"], validators=[Optional(), Length(max=4000)])
    backstage_action = TextAreaField(LANE_LABELS["backstage_action"], validators=[Optional(), Length(max=4000)])
    support_process = TextAreaField(LANE_LABELS["support_process"], validators=[Optional(), Length(max=4000)])
    active = BooleanField(_l("In use"), default=True)

    def __init__(self, *args, teams=(), calendars=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.phase.choices = choices("phase", PHASES)
        self.channel.choices = choices("channel", CHANNELS)
        self.team_id.choices = [SelectChoice(0, "—")] + [SelectChoice(t.id, t.name) for t in teams]
        self.owner_role.choices = choices("role", ROLES)
        self.objective_metric.choices = [SelectChoice("", _l("No measured target"))] + [
            SelectChoice(metric, OBJECTIVE_LABELS[metric]) for metric in OBJECTIVE_METRICS]
        self.calendar_id.choices = [SelectChoice(0, _l("Company default"))] + [
            SelectChoice(c.id, c.name) for c in calendars]
        if self.calendar_id.data is None:  # none stored, or a form that leaves the field out
            self.calendar_id.data = 0

    @staticmethod
    def participants_text(participants: list[dict]) -> str:
        return "\n".join(f"{p['who']}: {p['does']}" if p.get("does") else p["who"] for p in participants)

    def to_data(self, form_data) -> dict:
        data = {name: self[name].data for name in (
            "code", "name", "phase", "channel", "owner_role", "objective", *BLUEPRINT_LANES)}
        data["process"] = self.internal_process.data
        data["team_id"] = self.team_id.data or None
        data["calendar_id"] = self.calendar_id.data or None
        data["warn_ratio"] = None if self.warn_share.data is None else Decimal(self.warn_share.data) / 100
        data["cost"] = self.cost.data
        data["objective_metric"] = self.objective_metric.data or None
        data["objective_target"] = self.objective_target.data
        data["active"] = self.active.data
        data["participants"] = [
            {"who": who.strip(), "does": does.strip()}
            for who, _, does in (line.partition(":") for line in (self.participants.data or "").splitlines())
            if who.strip()
        ]
        # Service levels arrive as sl-<tier>-first / sl-<tier>-resolution inputs, one row per tier.
        levels = []
        for tier in TIERS:
            first = (form_data.get(f"sl-{tier}-first") or "").strip()
            resolution = (form_data.get(f"sl-{tier}-resolution") or "").strip()
            if first or resolution:
                levels.append({"tier": tier, "first_response_hours": first or None,
                               "resolution_hours": resolution or None})
        data["service_levels"] = levels
        return data


class CalendarForm(BaseForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    timezone = StringField(_l("Time zone"), validators=[DataRequired(), Length(max=64)],
                           description=_l("A zone such as Europe/Madrid or America/Mexico_City"))
    country = SelectField(_l("Public holidays of"))
    subdivision = StringField(_l("Region"), validators=[Optional(), Length(max=10)])
    hours = WeeklyHoursField(_l("Opening hours"))
    closures = DateListField(_l("Own closures"),
                             description=_l("One date per line, as 24/12/2026 or 2026-12-24"))
    is_default = BooleanField(_l("Company default calendar"),
                              description=_l("Used by every moment type that does not name its own calendar"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        codes = [code for code, _ in country_choices()]
        self.country.choices = [SelectChoice("", _l("None: only our own closures"))] + [
            SelectChoice(code, name) for code, name in country_choices()]
        if self.country.data and self.country.data not in codes:  # kept, not silently dropped
            self.country.choices.append(SelectChoice(self.country.data, self.country.data))

    def to_data(self) -> dict:
        return {"name": self.name.data, "timezone": (self.timezone.data or "").strip(),
                "country": self.country.data or None, "subdivision": (self.subdivision.data or "").strip() or None,
                "hours": self.hours.data, "closures": [day.isoformat() for day in self.closures.data or []],
                "is_default": self.is_default.data}


class PolicyForm(BaseForm):
    moment_type_id = SelectField(_l("Moment type"), coerce=int)
    tier = SelectField(_l("Service tier"))
    kind = SelectField(_l("Compensation"))
    value = money_field(_l("Value"), _l("What the customer receives, in money"))
    cost = money_field(_l("Cost to us"), _l("What it costs the business; the value when empty"))
    requires_approval = BooleanField(_l("A supervisor approves each one"), default=True)
    escalate_after = IntegerField(_l("Escalate from breach number"),
                                  validators=[Optional(), NumberRange(min=1, max=100)],
                                  description=_l("From this breach of the same customer within the window on, "
                                                 "the escalated value applies"))
    escalation_window_days = IntegerField(_l("Escalation window (days)"), default=90,
                                          validators=[Optional(), NumberRange(min=1, max=3650)])
    escalated_value = money_field(_l("Escalated value"))
    cap_value = money_field(_l("Most per customer"), _l("Past it, proposals wait for a person"))
    cap_period_days = IntegerField(_l("Cap period (days)"), default=365,
                                   validators=[Optional(), NumberRange(min=1, max=3650)])
    active = BooleanField(_l("In use"), default=True)

    def __init__(self, *args, moment_types=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.moment_type_id.choices = [SelectChoice(0, _l("Any type"))] + [
            SelectChoice(mt.id, mt.name) for mt in moment_types]
        self.tier.choices = [SelectChoice("", _l("Any tier"))] + choices("tier", TIERS)
        self.kind.choices = choices("compensation_kind", KINDS)
        # "Any" is stored as NULL and offered as 0 / "".
        if self.moment_type_id.data is None:
            self.moment_type_id.data = 0
        if self.tier.data is None:
            self.tier.data = ""

    def to_data(self) -> dict:
        data = {name: self[name].data for name in (
            "kind", "value", "cost", "requires_approval", "escalate_after", "escalation_window_days",
            "escalated_value", "cap_value", "cap_period_days", "active")}
        data["moment_type_id"] = self.moment_type_id.data or None
        data["tier"] = self.tier.data or None
        return data


class GoodwillForm(BaseForm):
    """The most one role may grant on the spot; one such form per role on the policies page."""

    max_value = money_field(_l("Most on the spot"), required=True)
