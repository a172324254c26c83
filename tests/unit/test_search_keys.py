"""Search keys worked out a column at a time (search.keys_of_many, as an import does a
batch) are each customer's own: the same as one customer at a time, and the same as the
definition written row by row (every word of the name and company, the whole email, the
phone's digits with their last nine and ten), whatever the texts hold."""
import re
import unicodedata

from hypothesis import example, given
from hypothesis import strategies as st

from crm.customers import search

WORD = re.compile(r"\w+")


def plain(text: str) -> str:
    """Lower case without combining marks, a character at a time (no shortcuts)."""
    return "".join(ch for ch in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(ch))


def reference(name, company, email, phone) -> tuple[str, str | None, set[str]]:
    terms = set(WORD.findall(plain(name or "")))
    terms.update(WORD.findall(plain(company or "")))
    if email:
        terms.add("".join(plain(email).split()))  # one term (a space only a compatibility form brings)
    digits = "".join(ch for ch in (phone or "") if ch.isdigit() and ch.isdecimal())
    if digits:
        terms.update({digits, *(digits[-n:] for n in (9, 10) if len(digits) > n)})
    terms.discard("")
    if any(len(t) > search.TERM_MAX for t in terms):
        terms = {t[:search.TERM_MAX] for t in terms}
    return plain(name or "")[:200], digits[-9:] or None, terms


# Names as people type them, and what else a cell can hold: accents, other scripts,
# compatibility forms (´, ﬁ, ①), line breaks, punctuation, very long words.
TEXT = st.one_of(
    st.sampled_from(["María José Núñez-García", "O'Brien", "ÅSA ÖSTLUND", "Иван Петров", "李小龍", "ﬁliz ´acute",
                     "a\nb", "Zoë  Saldaña", "مَرْيَم", "שָׁלוֹם", "x" * 130, "①②", "İstanbul", "straße"]),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=40))
OPTIONAL = st.none() | TEXT
PHONE = st.none() | st.sampled_from(["+34 612 34 56 78", "612345678", "0034 (91) 555-12-34", "١٢٣٤٥٦٧", ""]) | TEXT


@given(st.lists(st.tuples(TEXT, OPTIONAL, OPTIONAL, PHONE), max_size=12))
@example([("María\nGarcía", None, "Ana@Example.es", "+34 600 000 001"), ("Ana", "Taller ´B", None, None)])
@example([("Ana Ruiz", None, None, None), ("مَرْيَم", "שָׁלוֹם", None, None)])
def test_many_at_once_are_each_one_alone_and_the_definition(rows):
    names, companies, emails, phones = (list(column) for column in zip(*rows, strict=True)) if rows else ([],) * 4
    sort_keys, phone_keys, texts = search.keys_of_many(names, companies, emails, phones)
    assert len(sort_keys) == len(phone_keys) == len(texts) == len(rows)
    for row, sort_key, phone_key, text in zip(rows, sort_keys, phone_keys, texts, strict=True):
        assert (sort_key, phone_key, set(text.split())) == search.customer_keys(*row) == reference(*row)
        assert sort_key == search.sort_key(row[0]) and phone_key == search.phone_key(row[3])


def test_a_name_with_accents_gives_its_plain_words():
    (sort_key,), (phone_key,), (text,) = search.keys_of_many(
        ["José Núñez-Peña"], ["Bicis Úbeda S.L."], ["Jose.Nunez@Example.es"], ["+34 612 34 56 78"])
    assert sort_key == "jose nunez-pena" and phone_key == "612345678"
    assert set(text.split()) == {"jose", "nunez", "pena", "bicis", "ubeda", "s", "l", "jose.nunez@example.es",
                                 "34612345678", "612345678", "4612345678"}
