from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, PasswordField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from crm.auth.models import ROLES, TEAM_KINDS
from crm.customers.lifecycle import TIERS
from crm.forms import BaseForm, LocalDecimalField
from crm.labels import choices
from crm.moments.models import BLUEPRINT_LANES, CHANNELS, PHASES

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
    cost = LocalDecimalField(_l("Cost per occurrence"), places=2,
                        validators=[Optional(), NumberRange(min=0, max=1000000)])
    objective = TextAreaField(_l("Objective"), validators=[Optional(), Length(max=4000)])
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

    def __init__(self, *args, teams=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.phase.choices = choices("phase", PHASES)
        self.channel.choices = choices("channel", CHANNELS)
        self.team_id.choices = [SelectChoice(0, "—")] + [SelectChoice(t.id, t.name) for t in teams]
        self.owner_role.choices = choices("role", ROLES)

    @staticmethod
    def participants_text(participants: list[dict]) -> str:
        return "\n".join(f"{p['who']}: {p['does']}" if p.get("does") else p["who"] for p in participants)

    def to_data(self, form_data) -> dict:
        data = {name: self[name].data for name in (
            "code", "name", "phase", "channel", "owner_role", "objective", *BLUEPRINT_LANES)}
        data["process"] = self.internal_process.data
        data["team_id"] = self.team_id.data or None
        data["cost"] = self.cost.data
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
