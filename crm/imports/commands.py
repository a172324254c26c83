"""`flask --app wsgi crm import customers|purchases|moments FILE [--dry-run] [--as EMAIL]`.

Each batch of rows is its own transaction; rejected rows go to FILE.errors.csv.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from sqlalchemy import select

from crm.commands import _fail, crm_cli
from crm.domain import DomainError
from crm.extensions import db
from crm.imports.fields import KINDS
from crm.imports.services import BATCH_SIZE
from crm.types import utc_now


@crm_cli.group("import")
def import_cli():
    """Import customers, purchases or contacts (moments) from a CSV file."""


def _acting_user(email: str | None):
    from crm.auth.models import User

    if email:
        user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
        if user is None:
            raise click.ClickException(f"no user with email {email}")
        return user
    user = db.session.scalar(select(User).where(User.role == "admin", User.active.is_(True)).order_by(User.id))
    if user is None:
        raise click.ClickException("there is no admin to import as: create one, or pass --as EMAIL")
    return user


def errors_path(path: Path) -> Path:
    return path.with_name(path.name + ".errors.csv")


def _run(kind: str, file: str, dry_run: bool, as_email: str | None, batch_size: int):
    from crm.imports import services

    path = Path(file)
    actor = _acting_user(as_email)
    target = errors_path(path)
    size = os.path.getsize(path)
    interrupted = None
    with path.open("rb") as stream:
        try:
            rows = services.open_file(stream)
        except DomainError as exc:
            _fail(exc)
        with target.open("w", encoding="utf-8", newline="") as out:
            errors = services.ErrorFile(out, rows.header, rows.dialect.delimiter)
            label = ("checking " if dry_run else "importing ") + path.name
            with click.progressbar(length=size, label=label, file=sys.stderr) as bar:
                done = [0]

                def on_progress(position):
                    bar.update(max(position - done[0], 0))
                    done[0] = max(position, done[0])

                try:
                    summary = services.run_import(
                        kind, stream, actor=actor, now=utc_now(), dry_run=dry_run, commit=db.session.commit,
                        on_error=errors, on_progress=on_progress, batch_size=batch_size)
                except DomainError as exc:
                    interrupted = exc
                except services.ImportInterrupted as exc:
                    db.session.rollback()
                    interrupted = exc
                bar.update(size - done[0])
    if not errors.count:
        target.unlink(missing_ok=True)
    if isinstance(interrupted, DomainError):
        _fail(interrupted)
    if interrupted is not None:
        if errors.count:
            click.echo(f"rows rejected before it stopped: {target}")
        raise click.ClickException(
            f"the import stopped in the batch starting at line {interrupted.line} ({interrupted.cause!r}); "
            f"that batch was rolled back and the batches before it are kept. Run the same command again "
            f"to finish: rows already imported are left as they are.")
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    click.echo(("dry run, nothing written: " if dry_run else "imported: ") + services.describe(summary))
    click.echo(f"file read as {summary.dialect.label}, delimiter '{summary.dialect.delimiter}'")
    if summary.rejected:
        click.echo(f"rejected rows (line and reason): {target}")


def _command(kind: str):
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True))
    @click.option("--dry-run", is_flag=True, help="Check every row and write nothing.")
    @click.option("--as", "as_email", metavar="EMAIL", help="The user the import is made as (default: the first admin).")
    @click.option("--batch-size", default=BATCH_SIZE, show_default=True, type=click.IntRange(100, 50000),
                  help="Rows per transaction.")
    def command(file, dry_run, as_email, batch_size):
        _run(kind, file, dry_run, as_email, batch_size)

    command.__doc__ = f"Import {kind} from a CSV file (UTF-8 or Windows-1252, ';' or ',')."
    return import_cli.command(kind)(command)


for _kind in KINDS:
    _command(_kind)
