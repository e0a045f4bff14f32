"""The gates `tuning.gate_handlers` puts in front of slixmpp's handlers change nothing that is
matched: over stanzas each handler is for (and stanzas it is not), a gated stream's handlers
match exactly what the same handlers match ungated, with and without a listener for the
events the skipped handlers raise. No server: the streams are built, not connected."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

import tui_omemo.xmpp.connection
from tui_omemo.xmpp.client import XmppClient

STANZAS = {
    "chat": "<message xmlns='jabber:client' type='chat' from='b@x/r'><body>hi</body></message>",
    "omemo": (
        "<message xmlns='jabber:client' from='b@x/r'><encrypted xmlns='urn:xmpp:omemo:2'>"
        "<header sid='1'/><payload>AA==</payload></encrypted></message>"
    ),
    "error": "<message xmlns='jabber:client' type='error'><error type='cancel'/></message>",
    "invite": (
        "<message xmlns='jabber:client' from='b@x/r'>"
        "<x xmlns='jabber:x:conference' jid='room@muc.x'/></message>"
    ),
    "pep items": (
        "<message xmlns='jabber:client' from='b@x'><event "
        "xmlns='http://jabber.org/protocol/pubsub#event'><items node='urn:xmpp:omemo:2:devices'>"
        "<item id='current'/></items></event></message>"
    ),
    "pep purge": (
        "<message xmlns='jabber:client' from='b@x'><event "
        "xmlns='http://jabber.org/protocol/pubsub#event'><purge node='n'/></event></message>"
    ),
    "carbon": (
        "<message xmlns='jabber:client' from='a@x'><received xmlns='urn:xmpp:carbons:2'>"
        "<forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client'/></forwarded>"
        "</received></message>"
    ),
    "caps": (
        "<presence xmlns='jabber:client' from='b@x/r'><c xmlns='http://jabber.org/protocol/caps'"
        " hash='sha-1' node='n' ver='v'/></presence>"
    ),
    "presence": "<presence xmlns='jabber:client' from='b@x/r' type='unavailable'/>",
    "ping": "<iq xmlns='jabber:client' type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>",
    "roster push": (
        "<iq xmlns='jabber:client' type='set' id='2'><query xmlns='jabber:iq:roster'/></iq>"
    ),
    "disco": (
        "<iq xmlns='jabber:client' type='get' id='3'>"
        "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>"
    ),
    "sm ack": "<a xmlns='urn:xmpp:sm:3' h='4'/>",
}


def _stream(monkeypatch: pytest.MonkeyPatch, gated: bool) -> Any:
    if not gated:
        monkeypatch.setattr(tui_omemo.xmpp.connection, "gate_handlers", lambda _xmpp: None)
    client = XmppClient("a@x", "pw", host="127.0.0.1", port=5222, allow_plaintext_loopback=True)
    stream = client._connection._make_stream()
    monkeypatch.undo()
    return stream


def _matches(stream: Any) -> dict[str, list[str]]:
    handlers = stream._XMLStream__handlers
    found = {}
    for name, text in STANZAS.items():
        stanza = stream._build_stanza(ET.fromstring(text))
        found[name] = [handler.name for handler in handlers if handler.match(stanza)]
    return found


@pytest.mark.parametrize("listening", [False, True])
def test_gated_handlers_match_what_ungated_ones_match(
    monkeypatch: pytest.MonkeyPatch, listening: bool
) -> None:
    """Before: the handlers' own matchers. The stream with gates must agree stanza by stanza
    (a handler that only raises an event is skipped while nobody listens to that event)."""
    ungated, gated = _stream(monkeypatch, False), _stream(monkeypatch, True)
    events = ("message", "message_error", "carbon_received", "pubsub_purge")
    for stream in (ungated, gated):
        for event in events if listening else ():
            stream.add_event_handler(event, lambda _stanza: None)
    expected = _matches(ungated)
    if not listening:
        skipped = {"IM", "IMError", "Carbon Received", "Pubsub Event: Purge", "Forwarded Stanza"}
        expected = {
            name: [h for h in names if h not in skipped] for name, names in expected.items()
        }
    assert _matches(gated) == expected
    assert expected["omemo"] == ["tui-omemo messages"]
    assert "Direct MUC Invitations" in expected["invite"]
    assert "Entity Capabilities" in expected["caps"]
