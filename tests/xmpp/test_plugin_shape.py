"""The XEP-0384 plugin has slixmpp's shape and its element classes are recognised by slixmpp."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import slixmpp

import tui_omemo.xmpp.xep_0384 as xep_0384
from tests.xmpp.test_translate import random_bundle
from tui_omemo.model import Namespace
from tui_omemo.xmpp.errors import PubSubRequestFailed


def test_plugin_registers_under_its_own_name() -> None:
    """A unique name, so slixmpp-omemo's `xep_0384` in the same process cannot replace it."""
    assert xep_0384.XEP_0384.name == "tui_omemo_xep_0384"
    assert {"xep_0060", "xep_0163"} <= xep_0384.XEP_0384.dependencies
    client = slixmpp.ClientXMPP("a@localhost", "pw")
    client.register_plugin(xep_0384.XEP_0384.name, module=xep_0384)
    assert isinstance(client.plugin[xep_0384.XEP_0384.name], xep_0384.XEP_0384)


def test_an_omemo_message_builds_no_slixmpp_objects_for_its_encrypted_elements() -> None:
    """Incoming messages are read from their XML; slixmpp builds no object per OMEMO child."""
    client = slixmpp.ClientXMPP("a@localhost", "pw")
    client.register_plugin(xep_0384.XEP_0384.name, module=xep_0384)
    xml = ET.fromstring(
        f"<message xmlns='jabber:client'>"
        f"<encrypted xmlns='{Namespace.V2}'><header sid='7'><keys jid='b@localhost'>"
        f"<key rid='8'>AAAA</key></keys></header><payload>AAAA</payload></encrypted>"
        f"<encrypted xmlns='{Namespace.LEGACY}'><header sid='7'><key rid='8'>AAAA</key>"
        f"<iv>AAAA</iv></header><payload>AAAA</payload></encrypted></message>"
    )
    message = slixmpp.Message(client, xml=xml)
    assert message.plugins == {}
    assert message.iterables == []
    assert len(message.xml.findall("*")) == 2  # the XML itself is kept as it came


async def test_v2_bundle_falls_back_to_1000_items_when_max_is_refused() -> None:
    """Pitfall 10: a server that refuses `max_items=max` gets `1000` (QXmpp's fallback)."""
    client = slixmpp.ClientXMPP("a@localhost", "pw")
    client.register_plugin(xep_0384.XEP_0384.name, module=xep_0384)
    plugin = client.plugin[xep_0384.XEP_0384.name]
    attempts: list[dict[str, str]] = []

    async def publish(node: str, item_id: str, payload: object, options: dict[str, str]) -> None:
        attempts.append(options)
        if options["pubsub#max_items"] == "max":
            raise PubSubRequestFailed("refused", "not-acceptable")

    plugin._publish = publish
    await plugin.publish_bundle(5, random_bundle(Namespace.V2))
    assert [a["pubsub#max_items"] for a in attempts] == ["max", "1000"]
    assert all(a["pubsub#access_model"] == "open" for a in attempts)
