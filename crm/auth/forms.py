from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from crm.forms import BaseForm


class LoginForm(BaseForm):
    email = StringField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    remember = BooleanField(_l("Keep me logged in"))


LANGUAGE_CHOICES = [SelectChoice("es", "Español"), SelectChoice("en", "English")]


class LanguageForm(BaseForm):
    locale = SelectField(_l("Language"), choices=LANGUAGE_CHOICES, validators=[DataRequired()])


class PasswordForm(BaseForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=200)])
    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(min=8, max=200)])


class ReauthForm(BaseForm):
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class TokenForm(BaseForm):
    name = StringField(_l("What is it for?"), validators=[Optional(), Length(max=80)])
