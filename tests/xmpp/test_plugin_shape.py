"""The XEP-0384 plugin has slixmpp's shape and its element classes are recognised by slixmpp."""

from __future__ import annotations

import slixmpp

import tui_omemo.xmpp.xep_0384 as xep_0384
from tui_omemo.model import Namespace


def test_plugin_registers_under_its_own_name() -> None:
    """A unique name, so slixmpp-omemo's `xep_0384` in the same process cannot replace it."""
    assert xep_0384.XEP_0384.name == "tui_omemo_xep_0384"
    assert {"xep_0060", "xep_0163"} <= xep_0384.XEP_0384.dependencies
    client = slixmpp.ClientXMPP("a@localhost", "pw")
    client.register_plugin(xep_0384.XEP_0384.name, module=xep_0384)
    assert isinstance(client.plugin[xep_0384.XEP_0384.name], xep_0384.XEP_0384)


def test_message_stanza_exposes_both_encrypted_elements() -> None:
    client = slixmpp.ClientXMPP("a@localhost", "pw")
    client.register_plugin(xep_0384.XEP_0384.name, module=xep_0384)
    message = client.Message()
    message["omemo_encrypted"]["header"]["sid"] = "7"
    message["omemo_legacy_encrypted"]["header"]["sid"] = "8"
    xml = message.xml
    assert xml.find(f"{{{Namespace.V2}}}encrypted/{{{Namespace.V2}}}header").get("sid") == "7"
    legacy = xml.find(f"{{{Namespace.LEGACY}}}encrypted/{{{Namespace.LEGACY}}}header")
    assert legacy is not None
    assert legacy.get("sid") == "8"
