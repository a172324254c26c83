from flask_babel import lazy_gettext as _l
from wtforms import DateField, HiddenField, SelectChoice, SelectField
from wtforms.validators import Optional

from crm.customers.lifecycle import TIERS
from crm.forms import BaseForm
from crm.labels import choices
from crm.moments.models import CHANNELS


class PeriodFilterForm(BaseForm):
    """A period of local days and a customer segment: what every insight page filters by."""

    class Meta:
        csrf = False  # a GET filter changes nothing

    since = DateField(_l("From"), validators=[Optional()])
    until = DateField(_l("To"), validators=[Optional()])
    segment = SelectField(_l("Segment"), validators=[Optional()])

    def __init__(self, *args, segments=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.segment.choices = [SelectChoice("", _l("All segments"))] + [SelectChoice(s, s) for s in segments]


class MetricsFilterForm(PeriodFilterForm):
    """The metrics page's filters: a period of local days and who or what to look at."""

    tier = SelectField(_l("Service tier"), validators=[Optional()])
    team = SelectField(_l("Team"), validators=[Optional()])
    agent = SelectField(_l("Agent"), validators=[Optional()])
    channel = SelectField(_l("Channel"), validators=[Optional()])
    moment_type = SelectField(_l("Moment type"), validators=[Optional()])

    # The service's names for its fields, and the fields that show their errors here.
    SERVICE_FIELDS = {"from": "since", "to": "until", "team_id": "team", "agent_id": "agent"}

    def __init__(self, *args, teams=(), staff=(), moment_types=(), **kwargs):
        super().__init__(*args, **kwargs)
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


class JourneyFilterForm(PeriodFilterForm):
    """The journey map's and blueprints' filters: a period, and a segment or one customer (from a link)."""

    customer_id = HiddenField()

    # The customer comes from a link, not a visible field: its error is shown above the form.
    SERVICE_FIELDS = {"from": "since", "to": "until", "customer_id": "customer"}

    def scope(self) -> dict:
        return {"segment": self.segment.data or None, "customer_id": self.customer_id.data or None}

    def query(self) -> dict:
        """The filters as query arguments, for links that keep them."""
        values = {"since": self.since.data, "until": self.until.data, "segment": self.segment.data,
                  "customer_id": self.customer_id.data}
        return {key: value for key, value in values.items() if value}
