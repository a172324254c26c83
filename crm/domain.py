"""Domain exceptions and the input cleaning every service shares.

Messages are gettext message ids (marked with ``N_``) plus parameters, so pure
code can raise them and the boundary (page, API, CLI) translates them.
"""
from __future__ import annotations

import re
import unicodedata


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated where it is shown."""
    return message


class DomainError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message: str, field: str | None = None, **params):
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params
        self.field = field

    def translated(self) -> str:
        from flask_babel import gettext

        return gettext(self.message, **self.params)


class ValidationFailed(DomainError):
    code = "validation_failed"
    status = 422

    def __init__(self, fields: dict[str, DomainError]):
        first = next(iter(fields.values()))
        super().__init__(first.message, first.field, **first.params)
        self.fields = fields

    def translated_fields(self) -> dict[str, list[str]]:
        return {name: [err.translated()] for name, err in self.fields.items()}


class NotFound(DomainError):
    code = "not_found"
    status = 404


class Forbidden(DomainError):
    code = "forbidden"
    status = 403


class Conflict(DomainError):
    code = "conflict"
    status = 409


class Gone(DomainError):
    """It existed, and no longer can be used (an expired link)."""

    code = "gone"
    status = 410


# Control characters other than tab, newline and carriage return: a NUL byte would
# be refused by PostgreSQL and the rest are never typed by people.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class Cleaner:
    """Collects field errors so one answer lists every problem at once."""

    def __init__(self):
        self.errors: dict[str, DomainError] = {}

    def fail(self, field: str, message: str, **params) -> None:
        self.errors.setdefault(field, DomainError(message, field, **params))

    def text(self, field: str, value, *, max_len: int, required: bool = False, multiline=False):
        if value is None:
            value = ""
        if not isinstance(value, str):
            self.fail(field, N_("must be text"))
            return None
        if _CONTROL.search(value) or (not multiline and ("\n" in value or "\r" in value)):
            self.fail(field, N_("contains characters that are not allowed"))
            return None
        value = unicodedata.normalize("NFC", value.strip())
        if required and not value:
            self.fail(field, N_("is required"))
            return None
        if len(value) > max_len:
            self.fail(field, N_("must be at most %(max)d characters"), max=max_len)
            return None
        return value

    def choice(self, field: str, value, choices, *, required: bool = True):
        if value in (None, "") and not required:
            return None
        if value not in choices:
            self.fail(field, N_("must be one of: %(choices)s"), choices=", ".join(map(str, choices)))
            return None
        return value

    def check(self) -> None:
        if self.errors:
            raise ValidationFailed(self.errors)
