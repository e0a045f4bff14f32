"""slixmpp element classes for XEP-0384's PEP payloads, both namespaces.

These classes let slixmpp recognise and carry the device lists and bundles in PubSub items and
events; they hold no logic. Reading and writing their content is done by
`tui_omemo.xmpp.translate` on the underlying `.xml`, which is strict about malformed input.
Messages carry no element class (see `register_stanzas`).

0.3 (`eu.siacs.conversations.axolotl`): `<list><device id/></list>`, `<bundle>` with
`signedPreKeyPublic`, `signedPreKeySignature`, `identityKey`, `prekeys/preKeyPublic`.
2 (`urn:xmpp:omemo:2`): `<devices><device id label labelsig/></devices>`, `<bundle>` with
`spk`, `spks`, `ik`, `prekeys/pk`.
"""

from __future__ import annotations

from typing import ClassVar

from slixmpp.xmlstream import ElementBase, register_stanza_plugin

from tui_omemo.model import Namespace

LEGACY = str(Namespace.LEGACY)
V2 = str(Namespace.V2)


class _Element(ElementBase):
    """Common base: no interfaces beyond what each class names."""

    interfaces: ClassVar[set[str]] = set()


# --- OMEMO 0.3 -------------------------------------------------------------------------------


class LegacyDevice(_Element):
    namespace = LEGACY
    name = "device"
    plugin_attrib = "device"
    plugin_multi_attrib = "devices"
    interfaces: ClassVar[set[str]] = {"id"}


class LegacyDeviceList(_Element):
    namespace = LEGACY
    name = "list"
    plugin_attrib = "omemo_legacy_list"


class LegacyBundle(_Element):
    namespace = LEGACY
    name = "bundle"
    plugin_attrib = "omemo_legacy_bundle"


# --- OMEMO 2 ---------------------------------------------------------------------------------


class Device(_Element):
    namespace = V2
    name = "device"
    plugin_attrib = "device"
    plugin_multi_attrib = "devices"
    interfaces: ClassVar[set[str]] = {"id", "label", "labelsig"}


class Devices(_Element):
    namespace = V2
    name = "devices"
    plugin_attrib = "omemo_devices"


class Bundle(_Element):
    namespace = V2
    name = "bundle"
    plugin_attrib = "omemo_bundle"


def register_stanzas(event_item_class: type[ElementBase], item_class: type[ElementBase]) -> None:
    """Attach the OMEMO PEP payloads to PubSub items/event items. Nothing is attached to
    `<message>`: an incoming OMEMO message is read from its XML (`xmpp/messages.py`), and a
    registered `<encrypted>` made slixmpp build an object per header, keys, key and payload
    element of every message, which nobody read."""
    register_stanza_plugin(LegacyDeviceList, LegacyDevice, iterable=True)
    register_stanza_plugin(Devices, Device, iterable=True)
    for container in (event_item_class, item_class):
        for payload in (LegacyDeviceList, LegacyBundle, Devices, Bundle):
            register_stanza_plugin(container, payload)
