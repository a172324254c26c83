"""The upload form and the column mapping of the imports page."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectChoice, SelectField

from crm.forms import BaseForm
from crm.imports.fields import FIELDS, KIND_LABELS, KINDS, LABELS


class UploadForm(BaseForm):
    kind = SelectField(_l("What the file holds"), choices=[SelectChoice(k, KIND_LABELS[k]) for k in KINDS])
    file = FileField(_l("CSV file"), validators=[FileRequired(_l("Choose a CSV file."))],
                     render_kw={"accept": ".csv,text/csv,text/plain"})


class MappingForm(BaseForm):
    """One select per column of the file: the field it is read as, or ignored."""

    def fill(self, kind: str, header: list[str], mapping: list[str | None]) -> MappingForm:
        self.kind, self.header = kind, header
        self.choices = [("", _l("— ignore this column —"))] + [(f, LABELS[f]) for f in FIELDS[kind]]
        self.selected = [(mapping[i] if i < len(mapping) else None) or "" for i in range(len(header))]
        return self

    def chosen(self, form_data) -> dict[int, str]:
        """The mapping posted, checked: known fields only, each field for one column at most."""
        allowed = set(FIELDS[self.kind])
        out: dict[int, str] = {}
        for index in range(len(self.header)):
            value = form_data.get(f"column-{index}", "")
            if value and value in allowed:
                if value in out.values():
                    self.form_errors.append(_l("Each field can be read from one column only: %(field)s is chosen twice.",
                                               field=LABELS[value]))
                out[index] = value
            self.selected[index] = value if value in allowed else ""
        return out
