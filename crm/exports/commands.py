"""`flask --app wsgi crm …` commands of crm.exports (registered on the crm group on import):
`export`, `backup` and `restore`."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from flask import current_app
from werkzeug.datastructures import MultiDict

from crm.commands import _fail, crm_cli
from crm.domain import DomainError
from crm.exports.csvstream import EXCEL, PLAIN, encode_rows
from crm.exports.filters import ACCEPTED, ENTITIES
from crm.extensions import db
from crm.types import utc_now

# Option name -> filter name; each entity accepts only its own (crm.exports.filters.ACCEPTED).
FILTER_OPTIONS = {"q": "q", "stage": "stage", "segment": "segment", "owner": "owner", "customer": "customer",
                  "moment_type": "moment_type", "channel": "channel", "status": "status", "team": "team",
                  "tier": "tier", "since": "from", "until": "to"}


@crm_cli.command("export")
@click.argument("entity", type=click.Choice(ENTITIES))
@click.option("--out", required=True, help="The file to write, or - for standard output.")
@click.option("--excel", is_flag=True, help="UTF-8 with BOM, ';' and decimal commas (Spanish Excel).")
@click.option("--q", help="customers: search words, as on the customer list.")
@click.option("--stage", help="customers: lifecycle stage.")
@click.option("--segment", help="customers: segment.")
@click.option("--owner", help="customers, commitments: owner's id or email.")
@click.option("--customer", help="moments, commitments, compensations, purchases: customer id.")
@click.option("--moment-type", "moment_type", help="moments, compensations: type code or id.")
@click.option("--channel", help="moments: channel.")
@click.option("--status", multiple=True, help="commitments (repeatable), compensations: status.")
@click.option("--team", help="compensations: team id.")
@click.option("--tier", help="compensations: customer's service tier.")
@click.option("--from", "since", help="moments, compensations, purchases: first day (YYYY-MM-DD), inclusive.")
@click.option("--to", "until", help="moments, compensations, purchases: last day (YYYY-MM-DD), inclusive.")
def export(entity, out, excel, **options):
    """Write ENTITY as CSV, streamed in batches (memory stays flat at any size).

    Rows are ordered by id, so exporting the same data twice gives the same bytes.
    """
    from crm.exports.services import prepare_export

    given = {name: value for name, value in options.items() if value not in (None, ())}
    foreign = sorted(f"--{name.replace('_', '-')}" for name in given if FILTER_OPTIONS[name] not in ACCEPTED[entity])
    if foreign:
        raise click.UsageError(f"{', '.join(foreign)} does not apply to {entity}")
    args = MultiDict()
    for name, value in given.items():
        for item in (value if isinstance(value, tuple) else (value,)):
            args.add(FILTER_OPTIONS[name], item)
    form = EXCEL if excel else PLAIN
    now = utc_now()
    try:
        job = prepare_export(None, entity, args, now, zone=current_app.config["BABEL_DEFAULT_TIMEZONE"],
                             form=form, via="cli")
    except DomainError as exc:
        _fail(exc)
    rows = 0

    def counted():
        nonlocal rows
        for batch in job.batches():
            rows += len(batch)
            yield batch

    chunks = encode_rows(job.columns, counted(), form)
    if out == "-":
        sys.stdout.flush()
        stream = sys.stdout.buffer
        for chunk in chunks:
            stream.write(chunk)
        stream.flush()
    else:
        _write_atomically(Path(out), chunks)
    db.session.commit()  # the audit event
    click.echo(f"exported {rows} {entity} to {'standard output' if out == '-' else out}",
               err=out == "-")


def _write_atomically(path: Path, chunks) -> None:
    """Into a temporary file beside `path`, renamed at the end: no half-written file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        with open(temporary, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _known_revisions() -> tuple[set[str], set[str]]:
    """Every revision of this code's migrations, and its heads."""
    from alembic.script import ScriptDirectory

    config = current_app.extensions["migrate"].migrate.get_config()
    script = ScriptDirectory.from_config(config)
    return {rev.revision for rev in script.walk_revisions()}, set(script.get_heads())


@crm_cli.command("backup")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The backup file to write.")
@click.option("--force", is_flag=True, help="Replace the file when it already exists.")
def backup_command(out, force):
    """Copy the SQLite database to FILE while the app keeps running (SQLite's online backup).

    On PostgreSQL use `pg_dump -Fc` instead (see the README)."""
    from crm.exports.backup import BackupError, backup

    db.session.remove()
    try:
        info = backup(current_app.config["SQLALCHEMY_DATABASE_URI"], out, force=force)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"backup written to {info.path} ({info.size:,} bytes, revision {info.revision or 'none'})")


@crm_cli.command("restore")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def restore_command(path, yes):
    """Replace the SQLite database's content with the backup at PATH (SQLite only).

    Checks first that PATH is a Fideliza database no newer than this code."""
    from crm.exports.backup import BackupError, inspect_backup, restore, sqlite_path

    url = current_app.config["SQLALCHEMY_DATABASE_URI"]
    known, heads = _known_revisions()
    try:
        live = sqlite_path(url)
        revision = inspect_backup(path, known)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    if not yes:
        click.confirm(f"Replace everything in {live} with {path} (revision {revision})?", abort=True)
    db.session.remove()
    db.engine.dispose()  # no pooled connection of ours holds a lock meanwhile
    try:
        restore(url, path)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"restored {path} into {live} (revision {revision})")
    if revision not in heads:
        click.echo("the backup is older than this code: now run `flask --app wsgi db upgrade`")

