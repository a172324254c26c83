"""Backups of an SQLite database while the app runs, and restoring one.

Both use SQLite's online backup API from a raw connection of their own: the copy is
taken in one step, which reads one consistent snapshot (WAL lets writers go on
meanwhile), and a restore writes through SQLite's pager, so connections already open
see the restored data on their next transaction. PostgreSQL has its own tools
(`pg_dump -Fc`, `pg_restore`); these functions refuse it with that advice.
"""
from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

SQLITE_HEADER = b"SQLite format 3\x00"
BUSY_TIMEOUT_S = 30


class BackupError(Exception):
    """A refusal, with a message for the operator."""


@dataclass
class BackupInfo:
    path: Path
    size: int
    revision: str | None


def sqlite_path(database_url: str) -> Path:
    """The database file behind an SQLite URL; anything else is refused with advice."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        raise BackupError(
            f"backup and restore work on SQLite only; this database is {url.get_backend_name()}. "
            "On PostgreSQL use its own tools: `pg_dump -Fc -f fideliza.dump \"$CRM_DATABASE_URL\"` to back up and "
            "`pg_restore --clean --if-exists -d \"$CRM_DATABASE_URL\" fideliza.dump` to restore (see the README).")
    if not url.database or url.database == ":memory:" or url.database.startswith("file::memory:"):
        raise BackupError("the database lives in memory: there is no file to back up or restore")
    return Path(url.database)


def _connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    uri = f"file:{path.resolve()}?mode=ro" if read_only else f"file:{path.resolve()}"
    conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
    return conn


def revision_of(conn: sqlite3.Connection) -> str | None:
    """The Alembic revision a database is at; None when it was never migrated."""
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError:
        return None
    return row[0] if row else None


def backup(database_url: str, out: Path, *, force: bool = False) -> BackupInfo:
    """Copy the live database to `out`: into a temporary file next to it, checked, then
    renamed, so `out` is either absent or a whole, consistent database."""
    source_path = sqlite_path(database_url)
    if not source_path.exists():
        raise BackupError(f"the database file {source_path} does not exist")
    out = Path(out)
    if out.exists() and not force:
        raise BackupError(f"{out} already exists; pass --force to replace it")
    if out.resolve() == source_path.resolve():
        raise BackupError("the backup cannot be the live database itself")
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{out.name}.{os.getpid()}.partial")
    temporary.unlink(missing_ok=True)
    source = _connect(source_path, read_only=True)
    try:
        target = sqlite3.connect(temporary, isolation_level=None)
        try:
            source.backup(target)  # one step: one snapshot, whatever writers do meanwhile
            # A self-contained file: no -wal beside it to lose when it is copied elsewhere.
            target.execute("PRAGMA journal_mode=DELETE")
            check = target.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise BackupError(f"the copy failed its integrity check: {check}")
            revision = revision_of(target)
        finally:
            target.close()
        with open(temporary, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, out)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    finally:
        source.close()
    return BackupInfo(out, out.stat().st_size, revision)


def inspect_backup(path: Path, known_revisions: set[str]) -> str:
    """The revision of a backup file, after checking it is one we can restore."""
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"{path} is not a file")
    with open(path, "rb") as handle:
        if handle.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
            raise BackupError(f"{path} is not an SQLite database")
    conn = _connect(path, read_only=True)
    try:
        try:
            check = conn.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{path} is damaged: {exc}") from None
        if check != "ok":
            raise BackupError(f"{path} failed its integrity check: {check}")
        revision = revision_of(conn)
    finally:
        conn.close()
    if revision is None:
        raise BackupError(f"{path} has no alembic_version: it is not a Fideliza database (or was never migrated)")
    if revision not in known_revisions:
        raise BackupError(f"{path} is at revision {revision}, which this code does not know: it was made by a newer "
                          "version of Fideliza. Restore it with that version.")
    return revision


def restore(database_url: str, path: Path) -> None:
    """Replace the live database's content with the backup's, through the backup API."""
    target_path = sqlite_path(database_url)
    if Path(path).resolve() == target_path.resolve():
        raise BackupError("the backup is the live database itself")
    source = _connect(Path(path), read_only=True)
    try:
        target = _connect(target_path)
        try:
            source.backup(target)
        except sqlite3.Error as exc:
            raise BackupError(f"the restore failed, the live database is unchanged: {exc}") from None
        finally:
            target.close()
    finally:
        source.close()
