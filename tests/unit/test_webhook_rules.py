"""Webhook signatures and receiver addresses: pure rules, tested directly."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm.webhooks.rules import new_secret, signature, signature_header, url_problem, verify

BODY = b'{"id":"evt_1","type":"moment.logged"}'
# Computed independently: printf '%s' '1700000000.<BODY>' | openssl dgst -sha256 -hmac 'whsec_test-secret'
EXPECTED = "fa37e9c9d3935f5ac52d3c7f1ecb5565910b50af1c76f078e0709a7f433d92cc"


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body():
    assert signature("whsec_test-secret", 1700000000, BODY) == EXPECTED
    assert signature_header("whsec_test-secret", 1700000000, BODY) == f"t=1700000000,v1={EXPECTED}"


def test_a_receiver_accepts_a_fresh_signature_and_refuses_everything_else():
    header = signature_header("s3cret", 1700000000, BODY)
    assert verify("s3cret", header, BODY, now=1700000100)
    assert not verify("other", header, BODY, now=1700000100)  # wrong secret
    assert not verify("s3cret", header, BODY + b" ", now=1700000100)  # body changed
    assert not verify("s3cret", header, BODY, now=1700000000 + 301)  # replayed too late
    assert not verify("s3cret", header, BODY, now=1700000000 - 301)  # from the future
    assert not verify("s3cret", "", BODY, now=1700000000)
    assert not verify("s3cret", "t=1700000000", BODY, now=1700000000)
    assert not verify("s3cret", f"v1={signature('s3cret', 1700000000, BODY)}", BODY, now=1700000000)
    assert not verify("s3cret", header.replace("t=1700000000", "t=1700000001"), BODY, now=1700000000)
    assert not verify("s3cret", header.replace("t=1700000000", "t=²"), BODY, now=1700000000)  # not int()'s digit


def test_during_a_rotation_either_listed_signature_may_match():
    both = f"t=1700000000,v1={signature('old', 1700000000, BODY)},v1={signature('new', 1700000000, BODY)}"
    assert verify("old", both, BODY, now=1700000000) and verify("new", both, BODY, now=1700000000)


@given(body=st.binary(max_size=2000), timestamp=st.integers(min_value=0, max_value=2**33),
       flip=st.integers(min_value=0, max_value=1999))
def test_any_changed_byte_breaks_the_signature(body, timestamp, flip):
    secret = "whsec_property"
    header = signature_header(secret, timestamp, body)
    assert verify(secret, header, body, now=timestamp)
    if body:
        position = flip % len(body)
        changed = body[:position] + bytes([body[position] ^ 0x01]) + body[position + 1:]
        assert not verify(secret, header, changed, now=timestamp)


def test_secrets_are_long_random_and_prefixed():
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50
    assert all(s.startswith("whsec_") and len(s) >= 48 for s in secrets)


@pytest.mark.parametrize("url", [
    "https://shop.example.com/hooks/fideliza",
    "https://shop.example.com:8443/hooks?source=crm",
    "http://127.0.0.1:9000/hook",
    "http://localhost/hook",
    "http://10.0.0.7/hook",
    "http://192.168.1.20:8080/crm",
    "http://[::1]:9000/hook",
])
def test_addresses_that_can_receive(url):
    assert url_problem(url) is None


@pytest.mark.parametrize("url, reason", [
    ("http://shop.example.com/hook", "use https://"),
    ("http://8.8.8.8/hook", "use https://"),
    ("ftp://shop.example.com/hook", "must start with https://"),
    ("javascript:alert(1)", "must start with https://"),
    ("https:///no-host", "must start with https://"),
    ("https://user:pass@shop.example.com/hook", "user name or password"),
    ("https://shop.example.com:99999/hook", "not a valid web address"),
    ("https://shop.example.com/hook#frag", "#fragment"),
    ("https://shop.example.com/" + "a" * 2000, "too long"),
])
def test_addresses_that_cannot(url, reason):
    problem = url_problem(url)
    assert problem is not None and reason in problem
