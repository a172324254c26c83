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
    return re.sub(r"\D", "", phone or "")


def terms_for(name: str | None, company: str | None, email: str | None, phone: str | None) -> set[str]:
    terms: set[str] = set()
    for text in (name, company):
        if text:
            terms.update(_WORD.findall(normalise(text)))
    if email:
        terms.add(normalise(email))
    digits = phone_digits(phone)
    if digits:
        # International and national forms: +34 612… is found as 612… too.
        terms.add(digits)
        for national in (9, 10):
            if len(digits) > national:
                terms.add(digits[-national:])
    return {t[:TERM_MAX] for t in terms if t}


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
