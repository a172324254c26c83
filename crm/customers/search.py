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
    """A customer's sort key, phone key and search terms."""
    (sort, ), (key, ), (text, ) = keys_of_many([name or ""], [company], [email], [phone])
    return sort, key, set(text.split())


_NOT_WORDS = re.compile(r"[^\w\n]+")
_NOT_DIGITS_NOR_NEWLINE = re.compile(r"[^\d\n]+")


def _lines(texts: list[str]) -> str:
    """The texts one per line (a line break inside one becomes a space)."""
    joined = "\n".join(texts)
    if joined.count("\n") != len(texts) - 1:
        joined = "\n".join(t.replace("\n", " ") for t in texts)
    return joined


def normalise_all(texts: list[str]) -> list[str]:
    """`normalise` of each text, in a few calls on all of them at once."""
    joined = "\n".join(texts)
    if not texts or joined.count("\n") != len(texts) - 1:
        return [normalise(t) for t in texts]
    folded = joined.casefold()
    if folded.isascii():
        return folded.split("\n")
    # As `normalise` does, on all of them: line breaks are left as they are.
    plain = _LATIN_MARKS.sub("", unicodedata.normalize("NFKD", folded)).split("\n")
    return [p if p.isascii() else normalise(t) for p, t in zip(plain, texts, strict=True)]


def keys_of_many(names: list[str], companies: list[str | None], emails: list[str | None],
                 phones: list[str | None]) -> tuple[list[str], list[str | None], list[str]]:
    """Customers' sort keys, phone keys and search terms (as a text, the terms separated
    by spaces), worked out a column at a time: an import does its whole batch in a few
    calls instead of a dozen per row.

    The terms are every word of the name and company, the whole email (without spaces,
    which only a compatibility form such as "´" brings), and the phone's digits with their
    last nine and ten digits (international and national forms: +34 612… is found as
    612… too), normalised, each cut at TERM_MAX characters."""
    if not names:
        return [], [], []
    plain_names = normalise_all(names)
    name_words = _NOT_WORDS.sub(" ", _lines(plain_names)).split("\n")
    company_words = _NOT_WORDS.sub(" ", _lines(normalise_all([c or "" for c in companies]))).split("\n")
    plain_emails = ["".join(e.split()) for e in normalise_all([e or "" for e in emails])]  # one term
    digits = _NOT_DIGITS_NOR_NEWLINE.sub("", _lines([p or "" for p in phones])).split("\n")
    texts = list(map(" ".join, zip(name_words, company_words, plain_emails, digits,
                                   [d[-9:] if len(d) > 9 else "" for d in digits],
                                   [d[-10:] if len(d) > 10 else "" for d in digits], strict=True)))
    texts = [text if len(text) <= TERM_MAX else _cut_terms(text) for text in texts]
    return [n[:200] for n in plain_names], [d[-9:] or None for d in digits], texts


def _cut_terms(text: str) -> str:
    return " ".join(term[:TERM_MAX] for term in text.split())


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
