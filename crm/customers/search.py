"""Customer search: normalised prefix terms that an index can answer on any engine.

A customer is indexed under every word of its name and company, its full email
and its phone digits. A query matches when each of its words is a prefix of some
term of the customer ("mar garc" finds "María García"; "612 34" finds a phone).
"""
from __future__ import annotations

import re
import unicodedata

from sqlalchemy import and_, select

TERM_MAX = 120
_WORD = re.compile(r"\w+", re.UNICODE)
_PHONE_QUERY = re.compile(r"^[\d\s+().-]+$")
_NOT_DIGITS = re.compile(r"\D")


# The combining marks of Latin accents (U+034F, a joiner, is not one): removing them leaves
# plain ASCII for nearly every name, without looking at each character in Python.
_LATIN_MARKS = re.compile("[\u0300-\u034e\u0350-\u036f]")


def normalise(text: str) -> str:
    """Lower case without accents: "Núñez" and "nunez" are the same to a searcher."""
    folded = text.casefold()
    if folded.isascii():
        return folded
    decomposed = unicodedata.normalize("NFKD", folded)
    plain = _LATIN_MARKS.sub("", decomposed)
    if plain.isascii():
        return plain
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def sort_key(name: str) -> str:
    return normalise(name)[:200]


def phone_digits(phone: str) -> str:
    return _NOT_DIGITS.sub("", phone or "")


def phone_key(phone: str | None) -> str | None:
    """What two spellings of one phone share: its last nine digits ("+34 612 34 56 78" and
    "612345678"), or all of them when shorter. Customers are matched by it (an indexed
    column, Customer.phone_key), and it is one of their search terms."""
    return phone_digits(phone)[-9:] or None


def terms_for(name: str | None, company: str | None, email: str | None, phone: str | None) -> set[str]:
    return customer_keys(name, company, email, phone)[2]


def customer_keys(name: str | None, company: str | None, email: str | None,
                  phone: str | None) -> tuple[str, str | None, set[str]]:
    """A customer's sort key, phone key and search terms, each text normalised once (an
    import works them out for every row of its file)."""
    plain_name = normalise(name) if name else ""
    terms = set(_WORD.findall(plain_name))
    if company:
        terms.update(_WORD.findall(normalise(company)))
    if email:
        terms.add(normalise(email))
    digits = phone_digits(phone)
    if digits:
        # International and national forms: +34 612… is found as 612… too.
        terms.add(digits)
        for national in (9, 10):
            if len(digits) > national:
                terms.add(digits[-national:])
    terms.discard("")
    if any(len(t) > TERM_MAX for t in terms):
        terms = {t[:TERM_MAX] for t in terms}
    return plain_name[:200], digits[-9:] or None, terms


def query_prefixes(q: str) -> list[str]:
    """The prefixes every match must have, one per word of the query."""
    q = (q or "").strip()[:200]
    if not q:
        return []
    if _PHONE_QUERY.match(q) and len(phone_digits(q)) >= 3:
        return [phone_digits(q)]
    prefixes: list[str] = []
    for token in q.split():
        token = normalise(token)
        if "@" in token:
            prefixes.append(token[:TERM_MAX])
        else:
            prefixes.extend(w[:TERM_MAX] for w in _WORD.findall(token))
    # Longer prefixes are more selective; duplicates add nothing.
    return sorted(set(prefixes), key=len, reverse=True)[:6]


def _upper_bound(prefix: str) -> str:
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def prefix_condition(term_column, prefix: str):
    """`term` starts with `prefix`, written as a range so a B-tree index answers it."""
    return and_(term_column >= prefix, term_column < _upper_bound(prefix))


def matching_ids(term_model, prefix: str):
    return select(term_model.customer_id).where(prefix_condition(term_model.term, prefix))
