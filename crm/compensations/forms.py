from flask_babel import lazy_gettext as _l
from wtforms import DateField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from crm.compensations.models import KINDS, STATUSES
from crm.customers.lifecycle import TIERS
from crm.forms import BaseForm, LocalDecimalField
from crm.labels import choices


class ReviewFilterForm(BaseForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    status = SelectField(_l("Status"), validators=[Optional()])
    team = SelectField(_l("Team"), validators=[Optional()])
    moment_type = SelectField(_l("Moment type"), validators=[Optional()])
    tier = SelectField(_l("Service tier"), validators=[Optional()])
    since = DateField(_l("From"), validators=[Optional()])
    until = DateField(_l("Until"), validators=[Optional()])

    def __init__(self, *args, teams=(), moment_types=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.status.choices = [SelectChoice("", _l("Any status"))] + choices(
            "compensation_status", STATUSES)
        self.team.choices = [SelectChoice("", _l("Any team"))] + [SelectChoice(str(t.id), t.name) for t in teams]
        self.moment_type.choices = [SelectChoice("", _l("Any type"))] + [
            SelectChoice(str(m.id), m.name) for m in moment_types]
        self.tier.choices = [SelectChoice("", _l("Any tier"))] + choices("tier", TIERS)


class ApproveForm(BaseForm):
    value = LocalDecimalField(_l("Value"), places=2, validators=[Optional(), NumberRange(min=0, max=1000000)])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=1000)])


class RejectForm(BaseForm):
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=1000)])


class GoodwillForm(BaseForm):
    moment_id = SelectField(_l("For the contact"), validators=[DataRequired()])
    kind = SelectField(_l("Kind"))
    value = LocalDecimalField(_l("Value"), places=2, validators=[DataRequired(), NumberRange(min=0, max=1000000)])
    reason = TextAreaField(_l("Why"), validators=[DataRequired(), Length(max=1000)])

    def __init__(self, *args, recent=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.kind.choices = choices("compensation_kind", KINDS)
        self.moment_id.choices = [SelectChoice(str(m.id), f"{m.moment_type.name} · {m.occurred_at:%Y-%m-%d}")
                                  for m in recent]
