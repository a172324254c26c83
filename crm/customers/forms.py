from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, DateField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from crm.customers.lifecycle import CUSTOMER_LANGUAGES, DEFAULT_TIER, LOYALTY_LEVELS, REASON_MAX, STAGES, TIERS
from crm.forms import BaseForm
from crm.labels import choices


class CustomerForm(BaseForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    email = StringField(_l("Email"), validators=[Optional(), Length(max=254)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=40)])
    company = StringField(_l("Company"), validators=[Optional(), Length(max=200)])
    segment = StringField(_l("Segment"), validators=[Optional(), Length(max=60)])
    stage = SelectField(_l("Stage"), default="prospect")
    loyalty = SelectField(_l("Loyalty"), default="occasional")
    tier = SelectField(_l("Service tier"), default=DEFAULT_TIER)
    language = SelectField(_l("Language"), default="es")
    owner_id = SelectField(_l("Owner"), coerce=int, validate_choice=True)
    marketing_consent = BooleanField(_l("Agrees to receive marketing email"))
    renewal_date = DateField(_l("Renewal date"), validators=[Optional()],
                             invalid_value_message=_l("is not a valid date"))

    def __init__(self, *args, owners=(), creating=True, **kwargs):
        super().__init__(*args, **kwargs)
        self.stage.choices = choices("stage", STAGES)
        self.loyalty.choices = choices("loyalty", LOYALTY_LEVELS)
        self.tier.choices = choices("tier", TIERS)
        self.language.choices = choices("language", CUSTOMER_LANGUAGES)
        self.owner_id.choices = [SelectChoice(0, "—")] + [SelectChoice(u.id, u.name) for u in owners]
        if not creating:
            del self.stage  # stage moves only through a change with a reason

    def to_data(self) -> dict:
        data = {name: field.data for name, field in self._fields.items() if name != "csrf_token"}
        data["owner_id"] = data.get("owner_id") or None
        return data


class StageForm(BaseForm):
    stage = SelectField(_l("New stage"), validators=[DataRequired()])
    reason = TextAreaField(_l("Why?"), validators=[DataRequired(), Length(max=REASON_MAX)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.stage.choices = choices("stage", STAGES)


class SearchForm(BaseForm):
    class Meta:
        csrf = False  # a GET search changes nothing

    q = StringField(_l("Search"), validators=[Optional(), Length(max=200)])
    stage = SelectField(_l("Stage"), validators=[Optional()])
    segment = SelectField(_l("Segment"), validators=[Optional()])
    owner = SelectField(_l("Owner"), validators=[Optional()])

    def __init__(self, *args, segments=(), owners=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.stage.choices = [SelectChoice("", _l("All stages"))] + choices("stage", STAGES)
        self.segment.choices = [SelectChoice("", _l("All segments"))] + [SelectChoice(s, s) for s in segments]
        self.owner.choices = [SelectChoice("", _l("Anyone"))] + [SelectChoice(str(u.id), u.name) for u in owners]


class PurchaseForm(BaseForm):
    """One purchase on the customer page. Amount, currency and date are checked by
    `purchases.record_purchase`, so the page refuses exactly what the API refuses."""

    amount = StringField(_l("Amount"), render_kw={"inputmode": "decimal", "autocomplete": "off"})
    currency = StringField(_l("Currency"), render_kw={"maxlength": 3, "autocomplete": "off",
                                                      "autocapitalize": "characters", "size": 3})
    purchased_on = StringField(_l("Date"), render_kw={"type": "date"})
    description = StringField(_l("What was bought"), render_kw={"maxlength": 500})

    def to_data(self, customer_id: int) -> dict:
        return {"customer_id": customer_id, "amount": self.amount.data, "currency": self.currency.data,
                "purchased_on": self.purchased_on.data, "description": self.description.data}
