"""Where mail goes: an SMTP server (CRM_SMTP_URL) or, unset, .eml files under the instance folder."""
from __future__ import annotations

import os
import smtplib
import socket
import ssl
from pathlib import Path

from flask import current_app

from crm.followups.rules import SmtpSettings, parse_smtp_url


class TransientError(Exception):
    """Try again later: the server is down, busy, or said 4xx."""


class PermanentError(Exception):
    """The server refused this message for good (5xx): retrying would not help."""


class ConnectionLost(TransientError):
    """The connection is gone; the messages left in the batch wait for the next run."""


def _classify(exc: smtplib.SMTPException) -> Exception:
    code = getattr(exc, "smtp_code", None)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [value[0] for value in exc.recipients.values()]
        code = max(codes) if codes else None
        detail = "; ".join(f"{addr}: {value[0]} {value[1].decode(errors='replace')}"
                           for addr, value in exc.recipients.items())
    else:
        error = getattr(exc, "smtp_error", b"")
        detail = f"{code} {error.decode(errors='replace') if isinstance(error, bytes) else error}".strip()
    if code is not None and 500 <= code < 600:
        return PermanentError(detail)
    return TransientError(detail or exc.__class__.__name__)


class SmtpTransport:
    """One connection, opened on first use and reused for every message of a run."""

    def __init__(self, settings: SmtpSettings):
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        try:
            if s.ssl:
                smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
                if s.starttls:
                    smtp.starttls(context=ssl.create_default_context())
            if s.username:
                smtp.login(s.username, s.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise ConnectionLost(f"SMTP login refused: {exc.smtp_code}") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise ConnectionLost(f"cannot reach the SMTP server {s.host}:{s.port}: {exc}") from None
        return smtp

    def send(self, sender: str, recipient: str, message: bytes, *, name: str) -> None:
        if self._smtp is None:
            self._smtp = self._connect()
        try:
            self._smtp.sendmail(sender, [recipient], message)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            self._reset()
            raise _classify(exc) from None
        except (smtplib.SMTPServerDisconnected, OSError, socket.timeout) as exc:
            self.close()
            raise ConnectionLost(f"the SMTP connection broke: {exc}") from None
        except smtplib.SMTPException as exc:
            self.close()
            raise _classify(exc) from None

    def _reset(self) -> None:
        try:
            self._smtp.rset()
        except (OSError, smtplib.SMTPException):
            self.close()

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                self._smtp.close()
            self._smtp = None


class FileTransport:
    """Development and demo mail: each message is an .eml file an admin can read on the "sent mail" page."""

    def __init__(self, folder: str):
        self.folder = Path(folder)

    def send(self, sender: str, recipient: str, message: bytes, *, name: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        # Named by the message, so sending it again replaces the file instead of adding one.
        target = self.folder / f"{name}.eml"
        partial = target.with_suffix(".part")
        try:
            with open(partial, "wb") as handle:
                handle.write(message)
            os.replace(partial, target)
        except OSError as exc:
            raise TransientError(f"cannot write {target}: {exc}") from None

    def close(self) -> None:
        pass


def transport_from_config():
    config = current_app.config
    if config.get("CRM_SMTP_URL"):
        return SmtpTransport(parse_smtp_url(config["CRM_SMTP_URL"]))
    return FileTransport(config["CRM_MAIL_DIR"])
