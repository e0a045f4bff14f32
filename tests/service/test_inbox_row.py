"""The inbox row format of `Inbound`: rows written by earlier versions stay readable, and
rows written now are byte for byte what earlier versions wrote for the same stanza."""

from __future__ import annotations

from tui_omemo.model import Arrival, Namespace
from tui_omemo.protocol.elements import EncryptedElement, KeyElement
from tui_omemo.service.ports import Inbound

# Written by the `dataclasses.asdict` version of `Inbound.to_bytes` (before the `also` field).
OLD_MAM_ROW = (
    b'{"body": "hint", "encrypted": {"iv": null, "keys": [{"data": "AQJrZXk=", "jid": '
    b'"me@localhost", "kex": true, "rid": 42}, {"data": "azI=", "jid": "bob@localhost", '
    b'"kex": false, "rid": 7}], "namespace": "urn:xmpp:omemo:2", "payload": "cGF5bG9hZAA=", '
    b'"sid": 1234}, "format": 1, "malformed": null, "mam_query_id": "q1", "message_id": "m1", '
    b'"message_type": "chat", "origin_id": "o1", "recipient": "me@localhost", "sender": '
    b'"bob@localhost/phone", "solicited": true, "source": "mam", "stanza_id": "s1", '
    b'"timestamp_ms": 1700000000000, "wrapper": "mam", "wrapper_from": "me@localhost"}'
)
OLD_MALFORMED_ROW = (
    b'{"body": null, "encrypted": null, "format": 1, "malformed": "bad", "mam_query_id": null, '
    b'"message_id": null, "message_type": "chat", "origin_id": null, "recipient": '
    b'"me@localhost", "sender": "a@b/c", "solicited": true, "source": "live", "stanza_id": '
    b'null, "timestamp_ms": null, "wrapper": "none", "wrapper_from": null}'
)

MAM_INBOUND = Inbound(
    Arrival.MAM,
    "bob@localhost/phone",
    "me@localhost",
    message_id="m1",
    origin_id="o1",
    stanza_id="s1",
    body="hint",
    encrypted=EncryptedElement(
        Namespace.V2,
        1234,
        (
            KeyElement("me@localhost", 42, b"\x01\x02key", True),
            KeyElement("bob@localhost", 7, b"k2", False),
        ),
        None,
        b"payload\x00",
    ),
    timestamp_ms=1_700_000_000_000,
    wrapper_from="me@localhost",
    mam_query_id="q1",
)
MALFORMED_INBOUND = Inbound(Arrival.LIVE, "a@b/c", "me@localhost", malformed="bad")


def test_old_rows_are_read() -> None:
    assert Inbound.from_bytes(OLD_MAM_ROW) == MAM_INBOUND
    assert Inbound.from_bytes(OLD_MALFORMED_ROW) == MALFORMED_INBOUND


def test_rows_are_written_as_before() -> None:
    assert MAM_INBOUND.to_bytes() == OLD_MAM_ROW
    assert MALFORMED_INBOUND.to_bytes() == OLD_MALFORMED_ROW


def test_row_with_both_versions_round_trips() -> None:
    legacy = EncryptedElement(
        Namespace.LEGACY, 99, (KeyElement("me@localhost", 42, b"zz", False),), b"iv" * 6, b"pl"
    )
    inbound = Inbound(
        Arrival.LIVE,
        "bob@localhost/phone",
        "me@localhost",
        encrypted=MAM_INBOUND.encrypted,
        also=legacy,
        solicited=False,
    )
    assert Inbound.from_bytes(inbound.to_bytes()) == inbound
