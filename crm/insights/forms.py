from flask_babel import lazy_gettext as _l
from wtforms import DateField, SelectChoice, SelectField
from wtforms.validators import Optional

from crm.customers.lifecycle import TIERS
from crm.forms import BaseForm
from crm.labels import choices
from crm.moments.models import CHANNELS


class MetricsFilterForm(BaseForm):
    """The metrics page's filters: a period of local days and who or what to look at."""

    class Meta:
        csrf = False  # a GET filter changes nothing

    since = DateField(_l("From"), validators=[Optional()])
    until = DateField(_l("To"), validators=[Optional()])
    segment = SelectField(_l("Segment"), validators=[Optional()])
    tier = SelectField(_l("Service tier"), validators=[Optional()])
    team = SelectField(_l("Team"), validators=[Optional()])
    agent = SelectField(_l("Agent"), validators=[Optional()])
    channel = SelectField(_l("Channel"), validators=[Optional()])
    moment_type = SelectField(_l("Moment type"), validators=[Optional()])

    # The service's names for its fields, and the fields that show their errors here.
    SERVICE_FIELDS = {"from": "since", "to": "until", "team_id": "team", "agent_id": "agent"}

    def __init__(self, *args, segments=(), teams=(), staff=(), moment_types=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.segment.choices = [SelectChoice("", _l("All segments"))] + [SelectChoice(s, s) for s in segments]
        self.tier.choices = [SelectChoice("", _l("Any tier"))] + choices("tier", TIERS)
        self.team.choices = [SelectChoice("", _l("Any team"))] + [SelectChoice(str(t.id), t.name) for t in teams]
        self.agent.choices = [SelectChoice("", _l("Anyone"))] + [SelectChoice(str(u.id), u.name) for u in staff]
        self.channel.choices = [SelectChoice("", _l("Any channel"))] + choices("channel", CHANNELS)
        self.moment_type.choices = [SelectChoice("", _l("Any type"))] + [
            SelectChoice(str(m.id), m.name) for m in moment_types]

    def filters(self) -> dict:
        """The filters in the service's words."""
        return {"segment": self.segment.data or None, "tier": self.tier.data or None,
                "team_id": self.team.data or None, "agent_id": self.agent.data or None,
                "channel": self.channel.data or None, "moment_type": self.moment_type.data or None}
