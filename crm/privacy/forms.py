"""The erasure form: the admin types the customer's name and says why."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from crm.forms import BaseForm


class EraseForm(BaseForm):
    confirmation = StringField(_l("Type the customer's name to confirm"),
                               validators=[DataRequired(), Length(max=200)])
    reason = TextAreaField(_l("Reason (for example, the customer's request and its date)"),
                           validators=[DataRequired(), Length(max=500)])

    def to_data(self) -> dict:
        return {"confirmation": self.confirmation.data, "reason": self.reason.data}
