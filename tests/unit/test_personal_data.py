"""Sealing personal fields (issue 16): round trips, binding to person and field,
shredded keys read as erased, masking."""

from __future__ import annotations

import os
from uuid import uuid4

import pytest

from domain.personal_data import (
    ERASED,
    SealBrokenError,
    is_sealed,
    kid_of,
    mask_phone,
    open_sealed,
    reveal,
    seal,
)
from projections.store.keys import Keyring, KeyUnavailableError


def test_a_sealed_value_opens_only_for_its_person_and_field() -> None:
    key, kid, alice, bob = os.urandom(32), uuid4(), uuid4(), uuid4()
    envelope = seal(key, kid, alice, "phone", "13800138000")
    assert is_sealed(envelope) and kid_of(envelope) == kid
    assert "13800138000" not in str(envelope)
    assert open_sealed(key, envelope, alice, "phone") == "13800138000"
    with pytest.raises(SealBrokenError):
        reveal(envelope, {str(kid): key}, bob, "phone")
    with pytest.raises(SealBrokenError):
        reveal(envelope, {str(kid): key}, alice, "name")
    assert seal(key, kid, alice, "phone", "x")["ct"] != seal(key, kid, alice, "phone", "x")["ct"]


def test_a_shredded_or_missing_key_reads_as_erased_and_clear_values_pass() -> None:
    key, kid, person = os.urandom(32), uuid4(), uuid4()
    envelope = seal(key, kid, person, "name", "王芳")
    assert reveal(envelope, {str(kid): None}, person, "name") == ERASED
    assert reveal(envelope, {}, person, "name") == ERASED
    assert reveal("王芳", {}, person, "name") == "王芳"  # recorded before sealing existed


def test_phones_are_masked_but_for_the_first_three_and_last_four_digits() -> None:
    assert mask_phone("13800138000") == "138****8000"
    assert mask_phone("+8613800138000") == "+861******8000"
    assert mask_phone("12345") == "*****"
    # a short number keeps too little to be guessed: never one or two digits hidden
    assert mask_phone("33512345") == "******45"  # an 8-digit landline
    assert mask_phone("0335123456") == "********56"
    assert mask_phone("123456") == "******"
    assert mask_phone(ERASED) == ERASED


def test_a_wrapped_key_needs_its_master() -> None:
    ring, kid, key = Keyring(os.urandom(32)), uuid4(), os.urandom(32)
    stored = ring.wrap(kid, key)
    assert stored != key and ring.unwrap(kid, stored, wrapped=True) == key
    with pytest.raises(KeyUnavailableError):
        Keyring(None).unwrap(kid, stored, wrapped=True)
    assert Keyring(None).unwrap(kid, key, wrapped=False) == key
