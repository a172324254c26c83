"""The base every form extends: CSRF from Flask-WTF, and no control characters."""
from __future__ import annotations

import re

from flask import request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DecimalField
from wtforms.widgets import TextInput

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class BaseForm(FlaskForm):
    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for field in self:
            if isinstance(field.data, str) and _CONTROL.search(field.data):
                field.errors = list(field.errors) + [_l("contains characters that are not allowed")]
                valid = False
        return valid


    def submit_ok(self) -> bool:
        """This form (told apart by its prefix on a page with several) was posted and is valid."""
        if request.method != "POST":
            return False
        if self._prefix and not any(key.startswith(self._prefix) for key in request.form):
            return False
        return self.validate_on_submit()


class ActionForm(BaseForm):
    """A button that changes state: it carries only the CSRF token."""


class LocalDecimalField(DecimalField):
    """Accepts the decimal comma Spanish speakers type ("9,90") as well as a point.

    Rendered as text with a decimal keypad: a number input would refuse the comma.
    """

    widget = TextInput()

    def __init__(self, *args, **kwargs):
        kwargs["render_kw"] = {"inputmode": "decimal", "autocomplete": "off", **(kwargs.get("render_kw") or {})}
        super().__init__(*args, **kwargs)

    def process_formdata(self, valuelist):
        if valuelist and isinstance(valuelist[0], str):
            valuelist = [valuelist[0].strip().replace(" ", "").replace(",", ".")]
        super().process_formdata(valuelist)
