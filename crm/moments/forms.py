from flask_babel import lazy_gettext as _l
from wtforms import DateTimeLocalField, RadioField, SelectChoice, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from crm.forms import BaseForm, LocalDecimalField
from crm.labels import choices, label
from crm.moments.models import CHANNELS, EMOTIONS, OUTCOMES
from crm.moments.services import NOTES_MAX


class MomentForm(BaseForm):
    """Customer, type and notes are all it takes; the rest has defaults."""

    moment_type = SelectField(_l("What happened"), validators=[DataRequired()])
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=NOTES_MAX)])
    emotion = RadioField(_l("How did the customer feel?"), validators=[Optional()],
                         choices=[SelectChoice(str(e), str(e)) for e in EMOTIONS])
    outcome = SelectField(_l("Outcome"), default="pending")
    # These three are loaded with the form's "More" part, which the page fetches only when
    # opened: absent from a post they keep their defaults, and log_moment checks them.
    follows_moment_id = SelectField(_l("Follows up an earlier contact"), validators=[Optional()],
                                    validate_choice=False)
    channel = SelectField(_l("Channel"), validators=[Optional()], validate_choice=False)
    staff_id = SelectField(_l("Handled by"), coerce=int, validate_choice=False)
    occurred_at = DateTimeLocalField(_l("When"), validators=[Optional()], format="%Y-%m-%dT%H:%M")
    cost = LocalDecimalField(_l("Cost"), validators=[Optional(), NumberRange(min=0, max=1000000)], places=2)

    def __init__(self, *args, moment_types=(), recent=(), staff=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.moment_type.choices = [SelectChoice("", _l("Choose…"))] + [
            SelectChoice(mt.code, f"{mt.name} · {label('phase', mt.phase)}") for mt in moment_types]
        self.outcome.choices = choices("outcome", OUTCOMES)
        self.channel.choices = [SelectChoice("", _l("The type's usual channel"))] + choices("channel", CHANNELS)
        self.follows_moment_id.choices = [SelectChoice("", _l("No, this is a new matter"))] + [
            SelectChoice(str(m.id), f"{m.moment_type.name} · {m.occurred_at:%Y-%m-%d}") for m in recent]
        self.staff_id.choices = [SelectChoice(u.id, u.name) for u in staff]

    def to_data(self, customer_id: int, timezone) -> dict:
        occurred = self.occurred_at.data
        return {
            "customer_id": customer_id,
            "moment_type": self.moment_type.data,
            "notes": self.notes.data,
            "emotion": int(self.emotion.data) if self.emotion.data not in (None, "", "None") else None,
            "outcome": self.outcome.data,
            "follows_moment_id": int(self.follows_moment_id.data) if self.follows_moment_id.data else None,
            "channel": self.channel.data or None,
            "staff_id": self.staff_id.data,
            "occurred_at": occurred.replace(tzinfo=timezone) if occurred else None,
            "cost": self.cost.data,
        }
