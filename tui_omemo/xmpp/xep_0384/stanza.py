"""slixmpp element classes for XEP-0384, both namespaces.

These classes let slixmpp recognise and carry OMEMO elements (`message['omemo_encrypted']`,
PEP event payloads); they hold no logic. Reading and writing their content is done by
`tui_omemo.xmpp.translate` on the underlying `.xml`, which is strict about malformed input.

0.3 (`eu.siacs.conversations.axolotl`): `<encrypted><header sid><key rid prekey/>…<iv/></header>
<payload/></encrypted>`, `<list><device id/></list>`, `<bundle>` with `signedPreKeyPublic`,
`signedPreKeySignature`, `identityKey`, `prekeys/preKeyPublic`.
2 (`urn:xmpp:omemo:2`): `<encrypted><header sid><keys jid><key rid kex/></keys></header>
<payload/></encrypted>`, `<devices><device id label labelsig/></devices>`, `<bundle>` with
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


class LegacyEncrypted(_Element):
    namespace = LEGACY
    name = "encrypted"
    plugin_attrib = "omemo_legacy_encrypted"


class LegacyHeader(_Element):
    namespace = LEGACY
    name = "header"
    plugin_attrib = "header"
    interfaces: ClassVar[set[str]] = {"sid"}


class LegacyKey(_Element):
    namespace = LEGACY
    name = "key"
    plugin_attrib = "key"
    plugin_multi_attrib = "keys"
    interfaces: ClassVar[set[str]] = {"rid", "prekey"}


class LegacyIv(_Element):
    namespace = LEGACY
    name = "iv"
    plugin_attrib = "iv"


class LegacyPayload(_Element):
    namespace = LEGACY
    name = "payload"
    plugin_attrib = "payload"


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


class Encrypted(_Element):
    namespace = V2
    name = "encrypted"
    plugin_attrib = "omemo_encrypted"


class Header(_Element):
    namespace = V2
    name = "header"
    plugin_attrib = "header"
    interfaces: ClassVar[set[str]] = {"sid"}


class Keys(_Element):
    namespace = V2
    name = "keys"
    plugin_attrib = "keys"
    plugin_multi_attrib = "keys_groups"
    interfaces: ClassVar[set[str]] = {"jid"}


class Key(_Element):
    namespace = V2
    name = "key"
    plugin_attrib = "key"
    plugin_multi_attrib = "keys"
    interfaces: ClassVar[set[str]] = {"rid", "kex"}


class Payload(_Element):
    namespace = V2
    name = "payload"
    plugin_attrib = "payload"


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


def register_stanzas(
    message_class: type[ElementBase],
    event_item_class: type[ElementBase],
    item_class: type[ElementBase],
) -> None:
    """Attach the OMEMO elements to messages and to PubSub items/event items."""
    register_stanza_plugin(message_class, LegacyEncrypted)
    register_stanza_plugin(LegacyEncrypted, LegacyHeader)
    register_stanza_plugin(LegacyHeader, LegacyKey, iterable=True)
    register_stanza_plugin(LegacyHeader, LegacyIv)
    register_stanza_plugin(LegacyEncrypted, LegacyPayload)
    register_stanza_plugin(LegacyDeviceList, LegacyDevice, iterable=True)
    register_stanza_plugin(message_class, Encrypted)
    register_stanza_plugin(Encrypted, Header)
    register_stanza_plugin(Header, Keys, iterable=True)
    register_stanza_plugin(Keys, Key, iterable=True)
    register_stanza_plugin(Encrypted, Payload)
    register_stanza_plugin(Devices, Device, iterable=True)
    for container in (event_item_class, item_class):
        for payload in (LegacyDeviceList, LegacyBundle, Devices, Bundle):
            register_stanza_plugin(container, payload)
