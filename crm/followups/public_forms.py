"""Forms of the follow-up pages: the survey customers answer, the panel staff use."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateTimeLocalField, RadioField, SelectChoice, SelectField, TextAreaField
from wtforms.validators import Length, Optional

from crm.followups.rules import SCORE_RANGE
from crm.followups.services import COMMENT_MAX
from crm.forms import BaseForm


class SurveyForm(BaseForm):
    """The score is checked by `services.answer_survey`, so a page and any other
    caller refuse exactly the same answers; the form only carries it (and CSRF)."""

    score = RadioField(_l("Score"), validate_choice=False)
    comment = TextAreaField(_l("Anything you would like to tell us? (optional)"),
                            validators=[Optional(), Length(max=COMMENT_MAX)])

    def __init__(self, *args, kind: str, **kwargs):
        super().__init__(*args, **kwargs)
        low, high = SCORE_RANGE[kind]
        self.score.choices = [(str(n), str(n)) for n in range(low, high + 1)]

    def preselect(self, raw: str | None) -> None:
        """`?score=N` from a link in the email picks a score; anything else is ignored."""
        if raw is not None and raw in {value for value, _label in self.score.choices}:
            self.score.data = raw


class ScheduleForm(BaseForm):
    """One message for one customer; the template and instant are checked by the service."""

    template = SelectField(_l("Message"), validate_choice=False)
    due_at = DateTimeLocalField(_l("Send at"), format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
                                validators=[Optional()])

    def __init__(self, *args, templates=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.template.choices = [SelectChoice(code, name) for code, name in templates]
