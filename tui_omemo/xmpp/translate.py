"""Pure translation between OMEMO XML (both namespaces) and the values of `protocol.elements`.

Everything here works on `xml.etree.ElementTree.Element` trees, so it can be tested without a
server and used on slixmpp stanzas through their `.xml`. Parsing is strict: anything a peer
could get wrong (bad base64, a missing `<header>` or `sid`, non-integer ids, wrong key sizes,
more keys or a bigger payload than we accept) raises `MalformedStanza`; nothing is guessed.
Base64 text may contain whitespace and line breaks, which are removed before decoding
(OMEMO-WIRE.md §8 pitfall 18); boolean attributes accept `true` and `1` (pitfall 8).

The one leniency is the OMEMO 2 device label: a label with a missing or undecodable `labelsig`
is dropped (label and signature become None) instead of rejecting the whole device list,
because the label is cosmetic and XEP-0384 says to ignore unsigned labels.
"""

from __future__ import annotations

import base64
import binascii
import re
import xml.etree.ElementTree as ET

from tui_omemo.model import Namespace, bare_jid
from tui_omemo.protocol.elements import (
    DeviceList,
    DeviceListEntry,
    EncryptedElement,
    KeyElement,
    WireBundle,
)
from tui_omemo.xmpp.errors import MalformedStanza

MAX_PAYLOAD_BYTES = 1024 * 1024
"""Largest decoded `<payload>` accepted."""
MAX_KEYS = 1000
"""Most `<key>` elements accepted in one `<encrypted>`."""
MAX_KEY_BYTES = 4096
"""Largest decoded `<key>` accepted (a key exchange is a few hundred bytes)."""
MAX_DEVICES = 1000
"""Most `<device>` entries accepted in one device list."""
MAX_PRE_KEYS = 1000
"""Most prekeys accepted in one bundle."""
MAX_LABEL_CHARS = 200
"""Longest device label kept (XEP-0384 recommends fewer than 53)."""

DEVICE_ID_MAX = 2**31 - 1
UINT32_MAX = 2**32 - 1

LEGACY_DEVICE_LIST_NODE = f"{Namespace.LEGACY}.devicelist"
LEGACY_BUNDLES_NODE_PREFIX = f"{Namespace.LEGACY}.bundles:"
V2_DEVICE_LIST_NODE = f"{Namespace.V2}:devices"
V2_BUNDLES_NODE = f"{Namespace.V2}:bundles"

_WHITESPACE = re.compile(r"\s+")
_DIGITS = re.compile(r"[0-9]{1,10}")
_PUBLIC_KEY_SIZE = {Namespace.LEGACY: 33, Namespace.V2: 32}
_SIGNATURE_SIZE = 64


def device_list_node(namespace: Namespace) -> str:
    """The PEP node holding the device list of `namespace`."""
    return LEGACY_DEVICE_LIST_NODE if namespace is Namespace.LEGACY else V2_DEVICE_LIST_NODE


def bundle_node(namespace: Namespace, device_id: int) -> str:
    """The PEP node holding the bundle of `device_id` (OMEMO 2: one node, item id = device id)."""
    if namespace is Namespace.LEGACY:
        return f"{LEGACY_BUNDLES_NODE_PREFIX}{device_id}"
    return V2_BUNDLES_NODE


# --- small strict parsers ------------------------------------------------------------------


def b64encode(data: bytes) -> str:
    """Standard base64 with padding, as every OMEMO client writes it."""
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str | None, what: str, max_bytes: int) -> bytes:
    """Decode base64 after removing whitespace; refuse bad input and anything over `max_bytes`.

    Raises:
        MalformedStanza: when `text` is missing, not valid base64, or too long.
    """
    if text is None:
        raise MalformedStanza(f"{what}: missing base64 content")
    compact = _WHITESPACE.sub("", text)
    if len(compact) > (max_bytes + 2) // 3 * 4:
        raise MalformedStanza(f"{what}: more than {max_bytes} bytes")
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as error:
        raise MalformedStanza(f"{what}: invalid base64") from error


def parse_int(value: str | None, what: str, minimum: int, maximum: int) -> int:
    """A decimal integer attribute within [minimum, maximum].

    Raises:
        MalformedStanza: when missing, not plain decimal digits, or out of range.
    """
    if value is None:
        raise MalformedStanza(f"{what}: missing")
    stripped = value.strip()
    if not _DIGITS.fullmatch(stripped):
        raise MalformedStanza(f"{what}: not a non-negative integer")
    number = int(stripped)
    if not minimum <= number <= maximum:
        raise MalformedStanza(f"{what}: {number} out of range {minimum}…{maximum}")
    return number


def parse_device_id(value: str | None, what: str) -> int:
    """A device id, 1 … 2^31−1."""
    return parse_int(value, what, 1, DEVICE_ID_MAX)


def parse_bool(value: str | None) -> bool:
    """`true`/`1` → True; absent, `false`, `0` → False. Anything else is malformed."""
    if value is None:
        return False
    normalized = value.strip().lower()
    if normalized in {"true", "1"}:
        return True
    if normalized in {"false", "0"}:
        return False
    raise MalformedStanza(f"boolean attribute: {value!r} is neither true/1 nor false/0")


def _tag(namespace: Namespace, name: str) -> str:
    return f"{{{namespace}}}{name}"


def _child(parent: ET.Element, namespace: Namespace, name: str) -> ET.Element:
    found = parent.find(_tag(namespace, name))
    if found is None:
        raise MalformedStanza(f"<{name}> missing in <{_local(parent.tag)}>")
    return found


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _namespace_of(element: ET.Element, expected_local: str) -> Namespace:
    if not element.tag.startswith("{"):
        raise MalformedStanza(f"<{element.tag}> has no namespace")
    namespace_text, local = element.tag[1:].split("}", 1)
    if local != expected_local:
        raise MalformedStanza(f"expected <{expected_local}>, got <{local}>")
    try:
        return Namespace(namespace_text)
    except ValueError as error:
        raise MalformedStanza(f"<{local}> in unknown namespace {namespace_text}") from error


# --- <encrypted> ------------------------------------------------------------------------------


def encrypted_to_xml(encrypted: EncryptedElement) -> ET.Element:
    """Build `<encrypted>` in the element's namespace.

    OMEMO 2 groups keys by `<keys jid>` in order of first appearance, so every key needs a
    bare JID. 0.3 writes keys without JIDs, then `<iv>` inside `<header>`.

    Raises:
        ValueError: for an OMEMO 2 key without a JID, or a 0.3 element without an IV.
    """
    namespace = encrypted.namespace
    root = ET.Element(_tag(namespace, "encrypted"))
    header = ET.SubElement(root, _tag(namespace, "header"), sid=str(encrypted.sender_device_id))
    if namespace is Namespace.LEGACY:
        for key in encrypted.keys:
            _key_to_xml(header, namespace, key)
        if encrypted.iv is None:
            raise ValueError("an OMEMO 0.3 <encrypted> needs an <iv>")
        ET.SubElement(header, _tag(namespace, "iv")).text = b64encode(encrypted.iv)
    else:
        groups: dict[str, ET.Element] = {}
        for key in encrypted.keys:
            if key.bare_jid is None:
                raise ValueError("an OMEMO 2 <key> needs the recipient's bare JID")
            group = groups.get(key.bare_jid)
            if group is None:
                group = ET.SubElement(header, _tag(namespace, "keys"), jid=key.bare_jid)
                groups[key.bare_jid] = group
            _key_to_xml(group, namespace, key)
    if encrypted.payload is not None:
        ET.SubElement(root, _tag(namespace, "payload")).text = b64encode(encrypted.payload)
    return root


def _key_to_xml(parent: ET.Element, namespace: Namespace, key: KeyElement) -> None:
    element = ET.SubElement(parent, _tag(namespace, "key"), rid=str(key.device_id))
    if key.key_exchange:
        element.set("prekey" if namespace is Namespace.LEGACY else "kex", "true")
    element.text = b64encode(key.data)


def encrypted_from_xml(root: ET.Element) -> EncryptedElement:
    """Parse an `<encrypted>` of either namespace.

    Raises:
        MalformedStanza: for anything we refuse (see the module docstring).
    """
    namespace = _namespace_of(root, "encrypted")
    header = _child(root, namespace, "header")
    sender_device_id = parse_device_id(header.get("sid"), "<header sid>")
    if namespace is Namespace.LEGACY:
        keys = _keys_from_xml(header, namespace, None)
        iv = b64decode(_child(header, namespace, "iv").text, "<iv>", 64)
        if len(iv) not in {12, 16}:
            raise MalformedStanza(f"<iv>: {len(iv)} bytes, expected 12 or 16")
    else:
        keys = []
        groups = header.findall(_tag(namespace, "keys"))
        if len(groups) > MAX_KEYS:
            raise MalformedStanza(f"more than {MAX_KEYS} <keys> elements")
        for group in groups:
            jid = group.get("jid")
            if not jid or len(jid) > 3071:
                raise MalformedStanza("<keys> without a usable jid")
            keys.extend(_keys_from_xml(group, namespace, bare_jid(jid), len(keys)))
        iv = None
    payload_element = root.find(_tag(namespace, "payload"))
    payload = None
    if payload_element is not None:
        payload = b64decode(payload_element.text or "", "<payload>", MAX_PAYLOAD_BYTES)
    return EncryptedElement(namespace, sender_device_id, tuple(keys), iv, payload)


def _keys_from_xml(
    parent: ET.Element, namespace: Namespace, jid: str | None, already: int = 0
) -> list[KeyElement]:
    elements = parent.findall(_tag(namespace, "key"))
    if already + len(elements) > MAX_KEYS:
        raise MalformedStanza(f"more than {MAX_KEYS} <key> elements")
    flag = "prekey" if namespace is Namespace.LEGACY else "kex"
    keys = []
    for element in elements:
        device_id = parse_device_id(element.get("rid"), "<key rid>")
        data = b64decode(element.text, "<key>", MAX_KEY_BYTES)
        if not data:
            raise MalformedStanza("<key> is empty")
        keys.append(KeyElement(jid, device_id, data, parse_bool(element.get(flag))))
    return keys


# --- device lists -------------------------------------------------------------------------


def device_list_to_xml(device_list: DeviceList) -> ET.Element:
    """`<list>` (0.3) or `<devices>` (2) with one `<device>` per entry; labels only in OMEMO 2."""
    namespace = device_list.namespace
    name = "list" if namespace is Namespace.LEGACY else "devices"
    root = ET.Element(_tag(namespace, name))
    for entry in device_list.devices:
        device = ET.SubElement(root, _tag(namespace, "device"), id=str(entry.device_id))
        if namespace is Namespace.V2 and entry.label is not None:
            device.set("label", entry.label)
            if entry.label_signature is not None:
                device.set("labelsig", b64encode(entry.label_signature))
    return root


def device_list_from_xml(root: ET.Element) -> DeviceList:
    """Parse `<list>` (0.3) or `<devices>` (2). Duplicate ids are kept once (first wins).

    Raises:
        MalformedStanza: for a wrong element, a bad or missing id, or too many devices.
    """
    local = _local(root.tag)
    if local not in {"list", "devices"}:
        raise MalformedStanza(f"<{local}> is not a device list")
    namespace = _namespace_of(root, local)
    if (namespace is Namespace.LEGACY) != (local == "list"):
        raise MalformedStanza(f"<{local}> does not belong to {namespace}")
    elements = root.findall(_tag(namespace, "device"))
    if len(elements) > MAX_DEVICES:
        raise MalformedStanza(f"more than {MAX_DEVICES} devices")
    entries: dict[int, DeviceListEntry] = {}
    for element in elements:
        device_id = parse_device_id(element.get("id"), "<device id>")
        if device_id in entries:
            continue
        label, signature = _label(element) if namespace is Namespace.V2 else (None, None)
        entries[device_id] = DeviceListEntry(device_id, label, signature)
    return DeviceList(namespace, tuple(entries.values()))


def _label(element: ET.Element) -> tuple[str | None, bytes | None]:
    label = element.get("label")
    if label is None or len(label) > MAX_LABEL_CHARS:
        return None, None
    try:
        signature = b64decode(element.get("labelsig"), "labelsig", 256)
    except MalformedStanza:
        return None, None
    return label, signature


# --- bundles -----------------------------------------------------------------------------------


def bundle_to_xml(bundle: WireBundle) -> ET.Element:
    """`<bundle>` in the bundle's namespace (element names per OMEMO-WIRE.md §3.2 / §4.2)."""
    namespace = bundle.namespace
    legacy = namespace is Namespace.LEGACY
    root = ET.Element(_tag(namespace, "bundle"))
    spk = ET.SubElement(
        root,
        _tag(namespace, "signedPreKeyPublic" if legacy else "spk"),
        {"signedPreKeyId" if legacy else "id": str(bundle.signed_pre_key_id)},
    )
    spk.text = b64encode(bundle.signed_pre_key)
    signature_name = "signedPreKeySignature" if legacy else "spks"
    ET.SubElement(root, _tag(namespace, signature_name)).text = b64encode(
        bundle.signed_pre_key_signature
    )
    identity_name = "identityKey" if legacy else "ik"
    ET.SubElement(root, _tag(namespace, identity_name)).text = b64encode(bundle.identity_key)
    prekeys = ET.SubElement(root, _tag(namespace, "prekeys"))
    for pre_key_id, pre_key in bundle.pre_keys.items():
        element = ET.SubElement(
            prekeys,
            _tag(namespace, "preKeyPublic" if legacy else "pk"),
            {"preKeyId" if legacy else "id": str(pre_key_id)},
        )
        element.text = b64encode(pre_key)
    return root


def bundle_from_xml(root: ET.Element) -> WireBundle:
    """Parse a `<bundle>` of either namespace, checking key and signature sizes.

    Raises:
        MalformedStanza: for missing parts, bad ids, wrong sizes, no or too many prekeys.
    """
    namespace = _namespace_of(root, "bundle")
    legacy = namespace is Namespace.LEGACY
    size = _PUBLIC_KEY_SIZE[namespace]
    spk = _child(root, namespace, "signedPreKeyPublic" if legacy else "spk")
    spk_id = parse_int(
        spk.get("signedPreKeyId" if legacy else "id"), "signed prekey id", 0, UINT32_MAX
    )
    signed_pre_key = _sized(spk.text, "signed prekey", size)
    signature = _sized(
        _child(root, namespace, "signedPreKeySignature" if legacy else "spks").text,
        "signed prekey signature",
        _SIGNATURE_SIZE,
    )
    identity_key = _sized(
        _child(root, namespace, "identityKey" if legacy else "ik").text, "identity key", size
    )
    elements = _child(root, namespace, "prekeys").findall(
        _tag(namespace, "preKeyPublic" if legacy else "pk")
    )
    if not elements or len(elements) > MAX_PRE_KEYS:
        raise MalformedStanza(f"bundle has {len(elements)} prekeys, expected 1…{MAX_PRE_KEYS}")
    pre_keys: dict[int, bytes] = {}
    for element in elements:
        pre_key_id = parse_int(
            element.get("preKeyId" if legacy else "id"), "prekey id", 0, UINT32_MAX
        )
        if pre_key_id in pre_keys:
            raise MalformedStanza(f"prekey id {pre_key_id} appears twice")
        pre_keys[pre_key_id] = _sized(element.text, "prekey", size)
    return WireBundle(namespace, identity_key, signed_pre_key, spk_id, signature, pre_keys)


def _sized(text: str | None, what: str, size: int) -> bytes:
    data = b64decode(text, what, size)
    if len(data) != size:
        raise MalformedStanza(f"{what}: {len(data)} bytes, expected {size}")
    return data
