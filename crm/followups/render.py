"""Turning a template and a customer into an email: variables, both parts, headers.

Admins write a subject and a plain-text body with ``{{ variables }}``; the HTML part
is that text laid out by the house template (escaped, links made clickable), so an
admin cannot break the markup and both parts always say the same thing.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email import charset as email_charset
from email import encoders
from email.header import Header
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import formataddr, parseaddr
from functools import lru_cache

from flask import current_app, render_template
from itsdangerous import BadSignature, URLSafeSerializer
from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, UndefinedError, meta
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from crm.domain import N_
from crm.i18n import in_language

SUBJECT_MAX = 200
BODY_MAX = 20_000

_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


class TemplateProblem(ValueError):
    """A template that cannot be used; `message` is a gettext id with `params`."""

    def __init__(self, message: str, **params):
        super().__init__(message % params if params else message)
        self.message, self.params = message, params


@lru_cache(maxsize=512)
def used_variables(source: str) -> frozenset[str]:
    """The variables a template source refers to; raises TemplateProblem on bad syntax."""
    try:
        return frozenset(meta.find_undeclared_variables(_env.parse(source)))
    except TemplateSyntaxError as exc:
        raise TemplateProblem(N_("line %(line)s: %(error)s"), line=exc.lineno, error=exc.message) from None


@lru_cache(maxsize=256)
def _compiled(source: str):
    return _env.from_string(source)


def render_text(source: str, context: dict) -> str:
    try:
        return _compiled(source).render(context)
    except UndefinedError as exc:
        missing = re.search(r"'([^']+)' is undefined", exc.message or "")
        raise TemplateProblem(N_("this message has no value for %(name)s"),
                              name=missing.group(1) if missing else exc.message) from None
    except (TemplateError, TypeError, ValueError, ArithmeticError, RecursionError, LookupError) as exc:
        raise TemplateProblem(N_("the template cannot be rendered: %(error)s"), error=str(exc)) from None


_URL = re.compile(r"https?://[^\s<>\"']+")


def text_to_html(body: str) -> Markup:
    """Paragraphs and line breaks of a plain-text body as escaped HTML with live links."""
    paragraphs = []
    for block in re.split(r"\n\s*\n", body.strip()):
        escaped = str(escape(block))
        linked = _URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)
        paragraphs.append("<p>" + linked.replace("\n", "<br>\n") + "</p>")
    return Markup("\n".join(paragraphs))


# --- tokens in links ---------------------------------------------------------------

def _serializer(salt: str) -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=salt)


def survey_token(idempotency_key: str) -> str:
    return _serializer("fideliza-survey").dumps(idempotency_key)


def read_survey_token(token: str) -> str | None:
    try:
        value = _serializer("fideliza-survey").loads(token)
    except BadSignature:
        return None
    return value if isinstance(value, str) else None


def unsubscribe_token(customer_id: int) -> str:
    return _serializer("fideliza-unsubscribe").dumps(customer_id)


def read_unsubscribe_token(token: str) -> int | None:
    try:
        value = _serializer("fideliza-unsubscribe").loads(token)
    except BadSignature:
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def public_url(path: str) -> str:
    return current_app.config["CRM_BASE_URL"].rstrip("/") + path


def survey_url(idempotency_key: str) -> str:
    return public_url(f"/s/{survey_token(idempotency_key)}")


def unsubscribe_url(customer_id: int) -> str:
    return public_url(f"/u/{unsubscribe_token(customer_id)}")


# --- the message ----------------------------------------------------------------------

def message_id(idempotency_key: str) -> str:
    """Derived from what caused the message, so a resend is recognisably the same email."""
    domain = parseaddr(current_app.config["CRM_MAIL_FROM"])[1].rpartition("@")[2] or "fideliza.localhost"
    return f"<{hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]}@{domain}>"


@dataclass
class Rendered:
    subject: str
    text: str
    html: str
    message: bytes


# Quoted-printable keeps Spanish text readable in the raw message (and smaller than base64).
UTF8_QP = email_charset.Charset("utf-8")
UTF8_QP.body_encoding = email_charset.QP
# SMTP wants CRLF line ends; smtplib sends bytes as they are.
SMTP_LINES = compat32.clone(linesep="\r\n")


def _header(value: str) -> str | Header:
    return value if value.isascii() else Header(value, "utf-8")


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # "application/pdf"
    data: bytes


def build_message(*, key: str, to_address: str, to_name: str, language: str, subject: str, body: str,
                  marketing: bool, unsubscribe: str | None, survey: str | None,
                  attachments: Sequence[Attachment] = ()) -> Rendered:
    """The RFC 5322 message (without Date, added when it leaves) in both parts, and any
    attachments after them (multipart/mixed around the multipart/alternative)."""
    with in_language(language):
        html = render_template("mail/message.html", subject=subject, body=text_to_html(body),
                               survey_url=survey, unsubscribe_url=unsubscribe,
                               company_name=current_app.config["CRM_COMPANY_NAME"])
        text = render_template("mail/message.txt", body=body, unsubscribe_url=unsubscribe,
                               company_name=current_app.config["CRM_COMPANY_NAME"])
    config = current_app.config
    mime = MIMEMultipart("mixed" if attachments else "alternative")
    mime["Message-ID"] = message_id(key)
    mime["From"] = config["CRM_MAIL_FROM"]
    mime["To"] = formataddr((str(Header(to_name, "utf-8")) if not to_name.isascii() else to_name, to_address))
    if config.get("CRM_MAIL_REPLY_TO"):
        mime["Reply-To"] = config["CRM_MAIL_REPLY_TO"]
    mime["Subject"] = _header(subject)
    mime["Content-Language"] = language
    mime["Auto-Submitted"] = "auto-generated"
    if marketing and unsubscribe:
        # RFC 8058: mail clients offer a one-click "unsubscribe" that POSTs to this URL.
        mime["List-Unsubscribe"] = f"<{unsubscribe}>"
        mime["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    parts = mime
    if attachments:
        parts = MIMEMultipart("alternative")
        del parts["MIME-Version"]
        mime.attach(parts)
    parts.attach(MIMEText(text, "plain", UTF8_QP))
    parts.attach(MIMEText(html, "html", UTF8_QP))
    for attachment in attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        part = MIMEBase(maintype, subtype)
        part.set_payload(attachment.data)
        encoders.encode_base64(part)
        part.add_header("Content-Disposition", "attachment", filename=attachment.filename)
        del part["MIME-Version"]
        mime.attach(part)
    return Rendered(subject=subject, text=text, html=html, message=mime.as_bytes(policy=SMTP_LINES))
