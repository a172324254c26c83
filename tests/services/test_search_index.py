"""The search index: the same answers from SQLite's FTS5 table and PostgreSQL's term rows."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from crm.customers import search, search_index, services
from crm.customers.models import Customer
from crm.extensions import db
from tests.conftest import NOW

# Names as people type them, and what a hostile or careless one might: accents, quotes,
# FTS5's own operators and wildcards, symbols, other scripts.
TEXT = st.text(alphabet=st.sampled_from(list("abcñáéíóúüçÑÁ ZZ-'\".*^:()+@€%_0123456789ßøłŁ漢字")), min_size=1,
               max_size=25)


def _customer(name, company=None, email=None, phone=None) -> Customer:
    customer = Customer(name=name, sort_name=search.sort_key(name), company=company, email=email, phone=phone,
                        stage="active", loyalty="occasional", tier="standard", language="es",
                        marketing_consent=False, created_at=NOW, updated_at=NOW)
    db.session.add(customer)
    db.session.flush()
    return customer


def _found(prefixes: list[str]) -> set[int]:
    return set(db.session.scalars(select(Customer.id).where(search_index.matching(prefixes))))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=TEXT, company=st.none() | TEXT, other=TEXT, data=st.data())
def test_every_prefix_of_every_term_finds_the_customer_and_nothing_else_does(ctx, name, company, other, data):
    try:
        customer = _customer(name, company, "ana.o'neil+x@example.es", "+34 612 345 678")
        bystander = _customer(other)
        terms = search.terms_for(name, company, customer.email, customer.phone)
        others = search.terms_for(other, None, None, None)
        search_index.add([(customer.id, terms), (bystander.id, others)])
        assert search_index.terms_of([customer.id]) == {customer.id: terms}
        term = data.draw(st.sampled_from(sorted(terms)))
        prefix = term[:data.draw(st.integers(1, len(term)))]
        found = _found([prefix])
        assert customer.id in found
        assert (bystander.id in found) == any(t.startswith(prefix) for t in others)
        # Every word must match: a second prefix that is no term's narrows to nobody.
        assert _found([prefix, "zzzzqqq"]) == set()
    finally:
        db.session.rollback()


def test_reindexing_replaces_and_removing_counts_the_terms(ctx):
    customer = _customer("Ana Ruiz")
    search_index.add([(customer.id, {"ana", "ruiz"})])
    search_index.replace([(customer.id, {"ana", "ortega"})])
    assert _found(["rui"]) == set() and _found(["orte"]) == {customer.id}
    assert search_index.count_terms() == 2
    assert search_index.remove([customer.id]) == 2
    assert _found(["ana"]) == set() and search_index.terms_of([customer.id]) == {}


def test_a_term_with_quotes_or_wildcards_is_found_as_written(ctx):
    customer = _customer("O'Neil")
    search_index.add([(customer.id, {'o"neil@example.es', "a*b"})])
    assert _found(['o"ne']) == {customer.id} and _found(["a*"]) == {customer.id}
    assert _found(['"']) == set() and _found(["a*c"]) == set()


def test_a_deleted_customer_leaves_the_index(ctx):
    """A trigger on both engines: a deleted customer is not found, and their id, if SQLite
    gives it again, does not bring their terms back."""
    customer = _customer("Begoña Pérez")
    search_index.add([(customer.id, search.terms_for(customer.name, None, None, None))])
    db.session.execute(delete(Customer).where(Customer.id == customer.id))
    assert search_index.terms_of([customer.id]) == {}
    assert search_index.count_terms() == 0


def test_the_customer_list_searches_through_the_index(ctx, admin):
    ana = services.create_customer(admin, {"name": "Ana \"La Rápida\" Ortega", "email": "ana@example.es",
                                           "phone": "+34 612 345 678"}, NOW)
    services.create_customer(admin, {"name": "Luis Gil"}, NOW)
    for q in ("rapida ana", "ORTEGA", "ana@exa", "612 34", "34612"):
        assert [c.id for c in services.search_customers(q).items] == [ana.id], q
    services.update_customer(admin, ana, {"name": "Ana Sanz"}, NOW)
    assert services.search_customers("ortega").items == []
    assert ana.phone_key == "612345678"
    services.update_customer(admin, ana, {"phone": "699 000 111"}, NOW)
    assert ana.phone_key == "699000111"


@pytest.mark.parametrize(("query", "finds"), [
    ('"ana"', True), ("ruiz*", True), ("-ana", True), ("^ana", True), ("ana:ruiz", True), ("(ana)", True),
    ("ana OR luis", False), ("NEAR(ana ruiz)", False), ('r"u', False), ("ana AND NOT ruiz", False),
])
def test_queries_with_fts_syntax_are_words_not_operators(ctx, admin, query, finds):
    """The query's words are searched for, whatever FTS5 would make of its punctuation and
    keywords ("OR" is a word that Ana Ruiz has no term for)."""
    ana = services.create_customer(admin, {"name": "Ana Ruiz"}, NOW)
    services.create_customer(admin, {"name": "Luis Gil"}, NOW)
    assert [c.id for c in services.search_customers(query).items] == ([ana.id] if finds else [])
