"""The minimal DNS parser against messages scapy builds, and against garbage."""

from __future__ import annotations

import base64
import os

import pytest
from scapy.layers.dns import DNS, DNSQR, DNSRR

from collectors.sensor.dns_wire import RCODE_NXDOMAIN, parse_dns, shannon_entropy


def test_query_and_response() -> None:
    query = parse_dns(bytes(DNS(id=7, rd=1, qd=DNSQR(qname="WWW.Example.ORG.", qtype="AAAA"))))
    assert query is not None
    assert (query.is_response, query.opcode, query.name, query.qtype) == (False, 0, "www.example.org", 28)
    assert query.labels == (b"www", b"example", b"org")
    answer = DNS(id=7, qr=1, rcode=3, qd=DNSQR(qname="nope.example.org"), an=DNSRR(rrname="nope.example.org"))
    parsed = parse_dns(bytes(answer))
    assert parsed is not None and parsed.is_response and parsed.rcode == RCODE_NXDOMAIN


def test_compression_pointer_in_question_is_followed() -> None:
    # The question's name is "a" then a pointer to "example.com" stored after the question (offset 20);
    # the question type is read after the pointer, not after the name it points to.
    header = b"\x00\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
    msg = header + b"\x01a\xc0\x14" + b"\x00\x10\x00\x01" + b"\x07example\x03com\x00"
    parsed = parse_dns(msg)
    assert parsed is not None and parsed.name == "a.example.com" and parsed.qtype == 16


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00" * 11,
        b"\x00\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00",  # no question
        b"\x00\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x05ab",  # label runs past the end
        b"\x00\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01\x00\x01",  # pointer loop
        b"\x00\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + b"\x3f" + b"a" * 63 + b"\x3f" + b"b" * 63 * 5,
    ],
)
def test_garbage_is_none_not_an_exception(data: bytes) -> None:
    assert parse_dns(data) is None


def test_random_bytes_never_raise() -> None:
    rng = os.urandom(64 * 500)
    for i in range(500):
        parse_dns(rng[i * 64 : (i + 1) * 64])


def test_entropy_separates_encoded_data_from_words() -> None:
    encoded = base64.b32encode(os.urandom(40)).decode().rstrip("=").lower().encode()
    assert shannon_entropy(encoded) > 4.2
    assert shannon_entropy(b"mail-gateway-primary-server") < 3.8
    assert shannon_entropy(b"") == 0.0
