"""Signed acknowledgement tokens and their secret file."""

from __future__ import annotations

import base64
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from sentinel.notify.ack import SECRET_FILE, AckSigner, AckTokenError, load_or_create_secret
from tests.sentinel.notify.conftest import Clock


def test_round_trip_binds_incident_institution_and_contact(tmp_path: Path, clock: Clock) -> None:
    signer = AckSigner.from_data_dir(tmp_path, clock=clock)
    token = signer.make("inc1", "moh", "ict@moh.go.tz", timedelta(hours=72))
    claim = signer.verify(token)
    assert (claim.incident_id, claim.institution_id, claim.contact) == ("inc1", "moh", "ict@moh.go.tz")
    assert claim.expires_at == clock() + timedelta(hours=72)


def test_expired(tmp_path: Path, clock: Clock) -> None:
    signer = AckSigner.from_data_dir(tmp_path, clock=clock)
    token = signer.make("inc1", "moh", "ict@moh.go.tz", 3600)
    clock.advance(seconds=3599)
    signer.verify(token)
    clock.advance(seconds=1)
    with pytest.raises(AckTokenError) as err:
        signer.verify(token)
    assert err.value.reason == "expired"


def test_forged_and_damaged_tokens(tmp_path: Path, clock: Clock) -> None:
    signer = AckSigner.from_data_dir(tmp_path, clock=clock)
    token = signer.make("inc1", "moh", "ict@moh.go.tz", 3600)
    payload, mac = token.split(".")
    forged_payload = (
        base64.urlsafe_b64encode(base64.urlsafe_b64decode(payload + "==").replace(b"inc1", b"inc2"))
        .rstrip(b"=")
        .decode()
    )
    other = AckSigner(b"x" * 32, clock=clock)
    for bad in (
        f"{forged_payload}.{mac}",  # another incident with the old signature
        other.make("inc1", "moh", "ict@moh.go.tz", 3600),  # signed with another key
        token[:-2],  # truncated
        "not-a-token",
        "a.b.c",
        "%%%.%%%",
        "x" * 5000,
    ):
        with pytest.raises(AckTokenError) as err:
            signer.verify(bad)
        assert err.value.reason == "invalid"


def _flip_unused_bits(text: str) -> str:
    """The same bytes spelled with the unused low bits of the last character set."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    spare = {2: 0b1111, 3: 0b11}[len(text) % 4]  # 2 chars left: 4 spare bits; 3 left: 2 spare bits
    return text[:-1] + alphabet[alphabet.index(text[-1]) | spare]


def test_only_the_canonical_spelling_of_a_token_is_accepted(tmp_path: Path, clock: Clock) -> None:
    signer = AckSigner.from_data_dir(tmp_path, clock=clock)
    token = signer.make("inc1", "moh", "ict2@moh.go.tz", 3600)  # a payload whose last character has spare bits
    payload, mac = token.split(".")
    assert len(mac) == 43 and len(payload) % 4 in (2, 3)
    standard = base64.b64encode(base64.urlsafe_b64decode(mac + "=")).rstrip(b"=").decode()
    lenient = [
        f"{payload}.{mac}=",  # padding on the signature
        f"{payload}==.{mac}",  # padding on the payload
        f"{payload}.{_flip_unused_bits(mac)}",  # the same signature bytes, spelled another way
        f"{_flip_unused_bits(payload)}.{mac}",
        f"{payload[:5]}\n{payload[5:]}.{mac}",  # a character outside the alphabet, skipped by the lenient decoder
        f"{payload[:5]}!{payload[5:]}.{mac}",
        f"{payload}.{mac[:10]} {mac[10:]}",
    ]
    if standard != mac:  # the standard alphabet's + and / for - and _
        lenient.append(f"{payload}.{standard}")
    for bad in lenient:
        assert bad != token
        with pytest.raises(AckTokenError) as err:
            signer.verify(bad)
        assert err.value.reason == "invalid", bad
    assert signer.verify(token).incident_id == "inc1"


def test_secret_file_created_once_with_0600(tmp_path: Path) -> None:
    path = tmp_path / "data" / SECRET_FILE
    first = load_or_create_secret(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_secret(path) == first  # reused, not replaced
    # a token made by one process verifies in another that reads the same file
    a, b = AckSigner.from_data_dir(path.parent), AckSigner.from_data_dir(path.parent)
    assert b.verify(a.make("i", "o", "c@x.tz", 60)).incident_id == "i"


def test_too_short_secret_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / SECRET_FILE
    path.write_text("short\n")
    with pytest.raises(Exception, match="too short"):
        load_or_create_secret(path)
