"""Pages of crm.imports: upload a CSV file, check it (a dry run), map its columns, import it.

Supervisors and admins only. The upload limit is the imports' own (CRM_IMPORT_MAX_BYTES,
20 MB by default), set before the body is read: the app's usual limit is far smaller.
"""
from __future__ import annotations

import io

from flask import Blueprint, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm.domain import N_, DomainError
from crm.extensions import db
from crm.forms import ActionForm
from crm.imports import runs, services
from crm.imports.fields import KIND_LABELS, LABELS
from crm.imports.forms import MappingForm, UploadForm
from crm.types import utc_now
from crm.web import apply_errors, role_required

bp = Blueprint("imports", __name__, url_prefix="/imports")
supervisor_required = role_required("supervisor")
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
SAMPLE_ROWS = 10


def max_bytes() -> int:
    return current_app.config.get("CRM_IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES)


@bp.url_value_preprocessor
def _allow_large_uploads(endpoint, values):
    # Runs before the before_request hooks, and the CSRF check among them reads the body.
    # Only for those who may import: anyone else keeps the app's small limit.
    if endpoint == "imports.index" and request.method == "POST" and current_user.is_authenticated \
            and current_user.has_role("supervisor"):
        request.max_content_length = max_bytes()


@bp.errorhandler(413)
def _too_large(error):
    flash(_("The file is larger than %(size)s MB: split it, or import it with the command line.",
            size=max_bytes() // (1024 * 1024)), "error")
    return redirect(url_for("imports.index"))


@bp.route("/", methods=["GET", "POST"], endpoint="index")
@supervisor_required
def index():
    form = UploadForm()
    if form.validate_on_submit():
        content = form.file.data.read(max_bytes() + 1)
        try:
            if len(content) > max_bytes():
                raise services.refuse(N_("The file is larger than %(size)s MB."), size=max_bytes() // (1024 * 1024))
            run = runs.create_run(current_user, form.kind.data, form.file.data.filename or "", content, utc_now())
        except DomainError as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            db.session.commit()
            return redirect(url_for("imports.show", run_id=run.id))
    status = 400 if request.method == "POST" else 200
    return render_template("imports/index.html", form=form, runs=runs.recent_runs(current_user),
                           kind_labels=KIND_LABELS, max_mb=max_bytes() // (1024 * 1024)), status


def _render(run, mapping_form: MappingForm, status: int = 200):
    mapping = {i: f for i, f in enumerate(mapping_form.selected) if f}
    busy = run.status in runs.BUSY
    sample, errors = [], []
    if not busy:  # while the scheduler imports it, the page only shows the progress
        try:
            sample = services.preview(run.kind, io.BytesIO(run.content), mapping, utc_now(), SAMPLE_ROWS,
                                      dialect=runs.dialect_of(run))
        except DomainError:
            sample = []
        if run.has_errors or (run.has_errors is None and run.errors_csv):
            errors = _errors_table(run.errors_csv, run.delimiter, runs.SHOWN_ERRORS)
    percent = min(100, (run.position or 0) * 100 // run.size) if busy and run.size else None
    return render_template("imports/show.html", run=run, form=mapping_form, action=ActionForm(prefix="run"),
                           sample=sample, mapped=[(i, f) for i, f in sorted(mapping.items())], labels=LABELS,
                           errors=errors, kind_label=KIND_LABELS[run.kind], busy=busy, percent=percent,
                           has_errors=bool(run.has_errors or (run.has_errors is None and run.errors_csv)),
                           interrupted=_(services.INTERRUPTED, line=(run.counts or {})["stopped_at_line"])
                           if run.status == "failed" and (run.counts or {}).get("stopped_at_line") else None,
                           dialect_label=runs.dialect_of(run).label), status


def _errors_table(data: bytes, delimiter: str, limit: int) -> list[tuple[str, str]]:
    """(line, reason) of the first rejected rows, from the stored error file."""
    import csv

    reader = csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=delimiter)
    next(reader, None)
    out = []
    for cells in reader:
        if len(out) >= limit:
            break
        if len(cells) >= 2:
            out.append((cells[-2], services.reading.unescape(cells[-1])))
    return out


@bp.get("/<id:run_id>", endpoint="show")
@supervisor_required
def show(run_id: int):
    run = runs.get_run(current_user, run_id)
    form = MappingForm(prefix="map").fill(run.kind, runs.header_of(run), run.mapping or [])
    return _render(run, form)


@bp.post("/<id:run_id>/check", endpoint="check")
@supervisor_required
def check(run_id: int):
    run = runs.get_run(current_user, run_id)
    form = MappingForm(prefix="map").fill(run.kind, runs.header_of(run), run.mapping or [])
    if not form.validate_on_submit():
        return _render(run, form, 400)
    mapping = form.chosen(request.form)
    if form.form_errors:
        return _render(run, form, 400)
    try:
        runs.check_run(current_user, run, mapping, utc_now())
    except DomainError as exc:
        db.session.rollback()
        apply_errors(form, exc)
        run = runs.get_run(current_user, run_id)
        return _render(run, form, 400)
    db.session.commit()
    flash(_("Checked again with the columns you chose."), "success")
    return redirect(url_for("imports.show", run_id=run.id))


@bp.post("/<id:run_id>/run", endpoint="run")
@supervisor_required
def run_import(run_id: int):
    run = runs.get_run(current_user, run_id)
    form = ActionForm(prefix="run")
    if not form.validate_on_submit():
        flash(_("The form expired. Please send it again."), "error")
        return redirect(url_for("imports.show", run_id=run.id))
    try:
        summary = runs.import_or_queue(current_user, run, utc_now(), commit=db.session.commit)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.translated(), "error")
        return redirect(url_for("imports.show", run_id=run_id))
    except services.ImportInterrupted as exc:
        db.session.rollback()
        current_app.logger.exception("import %s stopped at line %s", run_id, exc.line, exc_info=exc.cause)
        flash(_(services.INTERRUPTED, line=exc.line), "error")
        return redirect(url_for("imports.show", run_id=run_id))
    db.session.commit()
    if summary is None:
        flash(_("The file is being imported in the background; this page shows how far it has got."), "info")
    else:
        flash(_("Imported: %(summary)s", summary=services.describe(summary)), "success")
    return redirect(url_for("imports.show", run_id=run_id))


@bp.get("/<id:run_id>/errors.csv", endpoint="errors")
@supervisor_required
def errors(run_id: int):
    run = runs.get_run(current_user, run_id)
    if not run.errors_csv:
        flash(_("No row was rejected."), "info")
        return redirect(url_for("imports.show", run_id=run.id))
    name = run.filename.rsplit(".", 1)[0] + ".errors.csv"
    return send_file(io.BytesIO(run.errors_csv), mimetype="text/csv", as_attachment=True, download_name=name)
