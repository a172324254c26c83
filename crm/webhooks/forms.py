"""The endpoint form: where to post, which events, and whether it is on."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, SelectChoice, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from crm.forms import BaseForm
from crm.webhooks.rules import EVENT_TYPES, URL_MAX
from crm.webhooks.services import DESCRIPTION_MAX

EVENT_LABELS = {
    "customer.created": _l("A customer is created"),
    "customer.stage_changed": _l("A customer changes lifecycle stage"),
    "moment.logged": _l("A contact is logged"),
    "commitment.breached": _l("A commitment is breached"),
    "compensation.issued": _l("A compensation is issued"),
    "survey.answered": _l("A customer answers a survey"),
}


class EventsField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class EndpointForm(BaseForm):
    url = StringField(_l("Receiver address (URL)"), validators=[DataRequired(), Length(max=URL_MAX)],
                      render_kw={"inputmode": "url", "autocomplete": "off", "placeholder": "https://"})
    description = StringField(_l("Description"), validators=[Optional(), Length(max=DESCRIPTION_MAX)])
    events = EventsField(_l("Events"), choices=[SelectChoice(e, EVENT_LABELS[e]) for e in EVENT_TYPES])
    active = BooleanField(_l("Active"), default=True)

    def to_data(self) -> dict:
        return {"url": (self.url.data or "").strip(), "description": self.description.data or "",
                "events": list(self.events.data or []), "active": bool(self.active.data)}
