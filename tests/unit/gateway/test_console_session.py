"""The console's session cookie and CSRF token: signed, bound, expiring, never holding the
key itself."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from govbus.gateway.authority import Principal
from govbus.gateway.console.session import (
    csrf_ok,
    csrf_token,
    derive_secret,
    new_session,
    read_session,
)

SECRET = derive_secret(b"pepper")
WHO = Principal("health", frozenset({"admin"}), "key:abc", key_id="0123456789ab")


def test_a_session_reads_back_as_the_principal_it_was_made_for() -> None:
    cookie, made = new_session(WHO, SECRET, now=1000.0, ttl_s=60)
    read = read_session(cookie, SECRET, now=1059.0)
    assert read == made
    assert read is not None
    who = read.principal()
    assert (who.department, who.roles, who.key_id, who.bureau) == (
        "health",
        frozenset({"admin"}),
        "0123456789ab",
        False,
    )


def test_a_session_ends_at_its_expiry() -> None:
    cookie, _ = new_session(WHO, SECRET, now=1000.0, ttl_s=60)
    assert read_session(cookie, SECRET, now=1060.0) is None


def test_another_secret_or_a_changed_body_is_refused() -> None:
    cookie, _ = new_session(WHO, SECRET, now=1000.0, ttl_s=60)
    assert read_session(cookie, derive_secret(b"other"), now=1001.0) is None
    _, signature = cookie.split(".")
    forged, _ = new_session(
        Principal("public_security", frozenset({"admin"}), "k", key_id="ffffffffffff"),
        derive_secret(b"attacker"),
        now=1000.0,
        ttl_s=60,
    )
    assert read_session(f"{forged.split('.')[0]}.{signature}", SECRET, now=1001.0) is None


def test_the_secret_is_derived_not_the_pepper_itself() -> None:
    assert derive_secret(b"pepper") != b"pepper"
    assert len(derive_secret(b"pepper")) == 32


def test_a_session_needs_an_api_key() -> None:
    with pytest.raises(ValueError, match="API key"):
        new_session(Principal("health", frozenset(), "jwt:x"), SECRET, 0.0, 60)


def test_csrf_tokens_are_bound_to_their_session() -> None:
    _, one = new_session(WHO, SECRET, now=1000.0, ttl_s=60)
    _, two = new_session(WHO, SECRET, now=1000.0, ttl_s=60)
    assert csrf_ok(one, SECRET, csrf_token(one, SECRET))
    assert not csrf_ok(two, SECRET, csrf_token(one, SECRET))
    assert not csrf_ok(one, SECRET, None)
    assert not csrf_ok(one, derive_secret(b"other"), csrf_token(one, SECRET))


@given(st.text(max_size=300))
def test_no_garbage_cookie_is_a_session(garbage: str) -> None:
    assert read_session(garbage, SECRET, now=0.0) is None


@given(st.text(max_size=100))
def test_no_other_text_is_the_csrf_token(given_token: str) -> None:
    _, one = new_session(WHO, SECRET, now=1000.0, ttl_s=60)
    assert csrf_ok(one, SECRET, given_token) == (given_token == csrf_token(one, SECRET))
