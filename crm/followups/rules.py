"""Pure follow-up rules: which variables a message may use, scores, back-off, SMTP URLs.

No Flask, no SQLAlchemy: tested directly.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qs, unquote, urlsplit

from crm.sla import N_

# Every message knows its customer and the business; the rest depends on what caused it.
BASE_VARIABLES = frozenset({"customer_name", "first_name", "company_name", "agent_name"})
TRIGGER_VARIABLES = {
    "after_moment": frozenset({"moment_type", "moment_date"}),
    "before_renewal": frozenset({"renewal_date"}),
    "inactivity": frozenset({"days_quiet"}),
    "compensation_issued": frozenset({"compensation", "moment_type", "moment_date"}),
    "one_off": frozenset(),
}
ALL_VARIABLES = BASE_VARIABLES.union(*TRIGGER_VARIABLES.values(), {"survey_url", "unsubscribe_url"})


def available_variables(trigger: str, *, kind: str, survey: str | None) -> frozenset[str]:
    names = BASE_VARIABLES | TRIGGER_VARIABLES[trigger]
    if survey:
        names |= {"survey_url"}
    if kind == "marketing":
        names |= {"unsubscribe_url"}
    return names


def missing_variables(used: set[str], trigger: str, *, kind: str, survey: str | None) -> list[str]:
    """The variables a template uses that a message of this trigger would not have."""
    return sorted(used - available_variables(trigger, kind=kind, survey=survey))


# --- survey answers -------------------------------------------------------------------

# CES: "the company made it easy to handle my issue", 1 (strongly disagree) to 7 (strongly agree).
SCORE_RANGE = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}


def score_in_range(kind: str, score: int) -> bool:
    low, high = SCORE_RANGE[kind]
    return isinstance(score, int) and not isinstance(score, bool) and low <= score <= high


def is_detractor(kind: str, score: int) -> bool:
    """NPS detractors answer 0–6; an unhappy CSAT answer is 1 or 2; a hard CES one 1 to 3."""
    if kind == "nps":
        return score <= 6
    return score <= 3 if kind == "ces" else score <= 2


def emotion_for(kind: str, score: int) -> int:
    """The customer's own answer on the −2..+2 emotion scale of the journey map.

    NPS: 0–3 −2, 4–6 −1 (detractors), 7–8 0 (passives), 9 +1, 10 +2 (promoters).
    CSAT: 1 −2, 2 −1, 3 0, 4 +1, 5 +2. CES: 1 −2, 2–3 −1, 4 0, 5–6 +1, 7 +2.
    """
    if kind == "csat":
        return score - 3
    if kind == "ces":
        return {1: -2, 2: -1, 3: -1, 4: 0, 5: 1, 6: 1, 7: 2}[score]
    if score <= 3:
        return -2
    if score <= 6:
        return -1
    if score <= 8:
        return 0
    return 1 if score == 9 else 2


# --- delivery -------------------------------------------------------------------------

MAX_ATTEMPTS = 12
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)


def retry_delay(attempts: int) -> timedelta:
    """Exponential back-off after the n-th failed attempt: 30 s, 1 min, 2 min … capped at an hour.

    Twelve attempts span about seven hours, so an SMTP server down for an afternoon
    loses nothing; after that the message waits, failed, for an admin to retry it.
    """
    exponent = min(max(attempts - 1, 0), 20)  # 2**20 × 30 s is far past the cap already
    return min(FIRST_RETRY * (2 ** exponent), LONGEST_RETRY)


def gives_up(attempts: int) -> bool:
    return attempts >= MAX_ATTEMPTS


class SmtpUrlError(ValueError):
    pass


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    ssl: bool = False
    starttls: bool = False
    timeout: float = 20.0


def parse_smtp_url(url: str) -> SmtpSettings:
    """`smtp://user:pass@host:port?starttls=1` or `smtps://…` (implicit TLS)."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise SmtpUrlError(N_("the SMTP URL must start with smtp:// or smtps://"))
    if not parts.hostname:
        raise SmtpUrlError(N_("the SMTP URL names no host"))
    try:
        port = parts.port
    except ValueError:
        raise SmtpUrlError(N_("the SMTP URL has an invalid port")) from None
    query = parse_qs(parts.query)
    starttls = query.get("starttls", ["0"])[-1].lower() in ("1", "true", "yes", "on")
    ssl = parts.scheme == "smtps"
    if ssl and starttls:
        raise SmtpUrlError(N_("smtps:// already encrypts; starttls applies to smtp:// only"))
    try:
        timeout = float(query.get("timeout", ["20"])[-1])
    except ValueError:
        raise SmtpUrlError(N_("the SMTP URL has an invalid timeout")) from None
    return SmtpSettings(
        host=parts.hostname, port=port or (465 if ssl else 587 if starttls else 25),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        ssl=ssl, starttls=starttls, timeout=timeout)
