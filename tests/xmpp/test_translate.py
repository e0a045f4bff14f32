"""XML ↔ elements.py translation: round trips for both namespaces, and strict refusal of
malformed peer input (no server needed)."""

from __future__ import annotations

import base64
import os
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tui_omemo.model import Namespace
from tui_omemo.protocol.elements import (
    DeviceList,
    DeviceListEntry,
    EncryptedElement,
    KeyElement,
    WireBundle,
)
from tui_omemo.xmpp import translate
from tui_omemo.xmpp.errors import MalformedStanza, TransportError

LEGACY = Namespace.LEGACY
V2 = Namespace.V2


def _roundtrip_encrypted(element: EncryptedElement) -> EncryptedElement:
    text = ET.tostring(translate.encrypted_to_xml(element))
    return translate.encrypted_from_xml(ET.fromstring(text))


def legacy_encrypted(payload: bytes | None = b"ciphertext") -> EncryptedElement:
    return EncryptedElement(
        LEGACY,
        27183,
        (
            KeyElement(None, 31415, b"whisper", False),
            KeyElement(None, 12321, b"prekey-whisper", True),
        ),
        iv=os.urandom(12),
        payload=payload,
    )


def v2_encrypted(payload: bytes | None = b"ciphertext") -> EncryptedElement:
    return EncryptedElement(
        V2,
        27183,
        (
            KeyElement("juliet@capulet.lit", 31415, b"auth", False),
            KeyElement("romeo@montague.lit", 12321, b"kex", True),
            KeyElement("juliet@capulet.lit", 4223, b"auth2", False),
        ),
        payload=payload,
    )


def test_legacy_encrypted_round_trips() -> None:
    """0.3: sid, rids, prekey flags, iv and payload survive XML unchanged."""
    element = legacy_encrypted()
    assert _roundtrip_encrypted(element) == element


def test_legacy_key_transport_has_no_payload() -> None:
    """A 0.3 key transport message (no <payload>) parses with payload None."""
    element = legacy_encrypted(payload=None)
    xml = translate.encrypted_to_xml(element)
    assert xml.find(f"{{{LEGACY}}}payload") is None
    assert translate.encrypted_from_xml(xml) == element


def test_legacy_iv_sits_inside_header_after_keys() -> None:
    """Pitfall: <iv> lives inside <header>, after the keys."""
    header = translate.encrypted_to_xml(legacy_encrypted()).find(f"{{{LEGACY}}}header")
    assert header is not None
    assert [child.tag.split("}")[1] for child in header] == ["key", "key", "iv"]


def test_v2_encrypted_round_trips_and_groups_keys_by_jid() -> None:
    """OMEMO 2: keys are grouped under <keys jid>; parsing restores the JIDs per key."""
    element = v2_encrypted()
    xml = translate.encrypted_to_xml(element)
    groups = xml.findall(f"{{{V2}}}header/{{{V2}}}keys")
    assert [group.get("jid") for group in groups] == ["juliet@capulet.lit", "romeo@montague.lit"]
    parsed = translate.encrypted_from_xml(xml)
    assert set(parsed.keys) == set(element.keys)
    assert parsed.payload == element.payload
    assert parsed.iv is None


def test_v2_key_without_jid_cannot_be_built() -> None:
    with pytest.raises(ValueError, match="JID"):
        translate.encrypted_to_xml(EncryptedElement(V2, 1, (KeyElement(None, 2, b"x"),)))


@pytest.mark.parametrize("value", ["true", "1", "TRUE", " true "])
def test_prekey_and_kex_accept_true_and_1(value: str) -> None:
    """Pitfall 8: Monal writes prekey='1'."""
    legacy = f"""<encrypted xmlns='{LEGACY}'><header sid='1'>
      <key rid='2' prekey='{value}'>AAAA</key><iv>AAAAAAAAAAAAAAAA</iv></header></encrypted>"""
    v2 = f"""<encrypted xmlns='{V2}'><header sid='1'><keys jid='a@b'>
      <key rid='2' kex='{value}'>AAAA</key></keys></header></encrypted>"""
    assert translate.encrypted_from_xml(ET.fromstring(legacy)).keys[0].key_exchange
    assert translate.encrypted_from_xml(ET.fromstring(v2)).keys[0].key_exchange


def test_base64_with_line_breaks_is_accepted() -> None:
    """Pitfall 18: whitespace inside base64 is stripped before decoding."""
    payload = os.urandom(100)
    wrapped = "\n  ".join(base64.b64encode(payload).decode()[i : i + 20] for i in range(0, 136, 20))
    xml = f"""<encrypted xmlns='{V2}'><header sid='5'><keys jid='a@b'><key rid='7'>
      AQID
      BA==</key></keys></header><payload>
      {wrapped}
    </payload></encrypted>"""
    parsed = translate.encrypted_from_xml(ET.fromstring(xml))
    assert parsed.payload == payload
    assert parsed.keys[0].data == b"\x01\x02\x03\x04"


MALFORMED = {
    "bad base64 in key": f"<encrypted xmlns='{V2}'><header sid='1'><keys jid='a@b'>"
    "<key rid='2'>!!notbase64!!</key></keys></header></encrypted>",
    "bad base64 padding in payload": f"<encrypted xmlns='{V2}'><header sid='1'><keys jid='a@b'>"
    "<key rid='2'>AAAA</key></keys></header><payload>AAA</payload></encrypted>",
    "missing header": f"<encrypted xmlns='{V2}'><payload>AAAA</payload></encrypted>",
    "missing sid": f"<encrypted xmlns='{V2}'><header><keys jid='a@b'>"
    "<key rid='2'>AAAA</key></keys></header></encrypted>",
    "non-int sid": f"<encrypted xmlns='{LEGACY}'><header sid='abc'><key rid='2'>AAAA</key>"
    "<iv>AAAAAAAAAAAAAAAA</iv></header></encrypted>",
    "negative rid": f"<encrypted xmlns='{LEGACY}'><header sid='1'><key rid='-2'>AAAA</key>"
    "<iv>AAAAAAAAAAAAAAAA</iv></header></encrypted>",
    "non-int rid": f"<encrypted xmlns='{LEGACY}'><header sid='1'><key rid='x'>AAAA</key>"
    "<iv>AAAAAAAAAAAAAAAA</iv></header></encrypted>",
    "rid out of range": f"<encrypted xmlns='{LEGACY}'><header sid='1'><key rid='4294967296'>"
    "AAAA</key><iv>AAAAAAAAAAAAAAAA</iv></header></encrypted>",
    "sid zero": f"<encrypted xmlns='{LEGACY}'><header sid='0'><key rid='2'>AAAA</key>"
    "<iv>AAAAAAAAAAAAAAAA</iv></header></encrypted>",
    "missing iv (0.3)": f"<encrypted xmlns='{LEGACY}'><header sid='1'><key rid='2'>AAAA</key>"
    "</header></encrypted>",
    "iv of wrong length": f"<encrypted xmlns='{LEGACY}'><header sid='1'><key rid='2'>AAAA</key>"
    "<iv>AAAA</iv></header></encrypted>",
    "empty key": f"<encrypted xmlns='{LEGACY}'><header sid='1'><key rid='2'></key>"
    "<iv>AAAAAAAAAAAAAAAA</iv></header></encrypted>",
    "bad boolean": f"<encrypted xmlns='{LEGACY}'><header sid='1'><key rid='2' prekey='yes'>AAAA"
    "</key><iv>AAAAAAAAAAAAAAAA</iv></header></encrypted>",
    "keys without jid": f"<encrypted xmlns='{V2}'><header sid='1'><keys>"
    "<key rid='2'>AAAA</key></keys></header></encrypted>",
    "unknown namespace": "<encrypted xmlns='urn:example'><header sid='1'/></encrypted>",
}


@pytest.mark.parametrize("xml", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_encrypted_is_refused(xml: str) -> None:
    """Each kind of malformed <encrypted> raises MalformedStanza (a TransportError)."""
    with pytest.raises(MalformedStanza):
        translate.encrypted_from_xml(ET.fromstring(xml))
    assert issubclass(MalformedStanza, TransportError)


@pytest.mark.parametrize("namespace", [LEGACY, V2])
def test_more_than_1000_keys_are_refused(namespace: Namespace) -> None:
    """A header with a huge number of keys is refused instead of processed."""
    keys = "".join(f"<key rid='{i}'>AAAA</key>" for i in range(1, translate.MAX_KEYS + 2))
    if namespace is V2:
        header = f"<header sid='1'><keys jid='a@b'>{keys}</keys></header>"
    else:
        header = f"<header sid='1'>{keys}<iv>AAAAAAAAAAAAAAAA</iv></header>"
    with pytest.raises(MalformedStanza, match="1000"):
        translate.encrypted_from_xml(
            ET.fromstring(f"<encrypted xmlns='{namespace}'>{header}</encrypted>")
        )


def test_ten_megabyte_payload_is_refused() -> None:
    """A 10 MB payload is refused before decoding (limit: 1 MB)."""
    big = base64.b64encode(b"\0" * (10 * 1024 * 1024)).decode()
    xml = (
        f"<encrypted xmlns='{V2}'><header sid='1'><keys jid='a@b'><key rid='2'>AAAA</key>"
        f"</keys></header><payload>{big}</payload></encrypted>"
    )
    with pytest.raises(MalformedStanza, match="bytes"):
        translate.encrypted_from_xml(ET.fromstring(xml))


def test_payload_at_the_limit_is_accepted() -> None:
    payload = os.urandom(translate.MAX_PAYLOAD_BYTES)
    element = EncryptedElement(V2, 1, (KeyElement("a@b", 2, b"k"),), payload=payload)
    assert _roundtrip_encrypted(element).payload == payload


@given(
    namespace=st.sampled_from([LEGACY, V2]),
    sid=st.integers(1, 2**31 - 1),
    keys=st.lists(
        st.tuples(st.integers(1, 2**31 - 1), st.binary(min_size=1, max_size=300), st.booleans()),
        max_size=20,
    ),
    payload=st.none() | st.binary(max_size=500),
)
def test_encrypted_round_trip_property(
    namespace: Namespace,
    sid: int,
    keys: list[tuple[int, bytes, bool]],
    payload: bytes | None,
) -> None:
    """Any valid element survives to-XML-and-back (serialised to text in between)."""
    jid = "peer@example.org" if namespace is V2 else None
    element = EncryptedElement(
        namespace,
        sid,
        tuple(KeyElement(jid, rid, data, flag) for rid, data, flag in keys),
        iv=os.urandom(12) if namespace is LEGACY else None,
        payload=payload,
    )
    assert _roundtrip_encrypted(element) == element


# --- device lists and bundles -----------------------------------------------------------------


def test_device_lists_round_trip_with_labels_only_in_v2() -> None:
    legacy = DeviceList(LEGACY, (DeviceListEntry(1234567), DeviceListEntry(89)))
    v2 = DeviceList(V2, (DeviceListEntry(31415, "tui on laptop", b"s" * 64), DeviceListEntry(4223)))
    assert translate.device_list_from_xml(translate.device_list_to_xml(legacy)) == legacy
    assert translate.device_list_from_xml(translate.device_list_to_xml(v2)) == v2
    assert translate.device_list_to_xml(legacy).tag == f"{{{LEGACY}}}list"
    assert translate.device_list_to_xml(v2).tag == f"{{{V2}}}devices"


def test_empty_v2_device_list_is_valid() -> None:
    assert translate.device_list_from_xml(ET.fromstring(f"<devices xmlns='{V2}'/>")).devices == ()


def test_device_list_with_bad_id_is_refused() -> None:
    with pytest.raises(MalformedStanza):
        translate.device_list_from_xml(
            ET.fromstring(f"<list xmlns='{LEGACY}'><device id='1'/><device id='x'/></list>")
        )


def test_label_with_bad_signature_is_dropped_not_fatal() -> None:
    """A label whose labelsig is missing or broken is ignored; the device itself stays."""
    parsed = translate.device_list_from_xml(
        ET.fromstring(
            f"<devices xmlns='{V2}'><device id='5' label='evil' labelsig='%%%'/>"
            "<device id='6' label='unsigned'/></devices>"
        )
    )
    assert parsed.devices == (DeviceListEntry(5), DeviceListEntry(6))


def random_bundle(namespace: Namespace, pre_keys: int = 100) -> WireBundle:
    size = 33 if namespace is LEGACY else 32
    return WireBundle(
        namespace,
        identity_key=os.urandom(size),
        signed_pre_key=os.urandom(size),
        signed_pre_key_id=7,
        signed_pre_key_signature=os.urandom(64),
        pre_keys={i: os.urandom(size) for i in range(1, pre_keys + 1)},
    )


@pytest.mark.parametrize("namespace", [LEGACY, V2])
def test_bundle_round_trips(namespace: Namespace) -> None:
    bundle = random_bundle(namespace)
    text = ET.tostring(translate.bundle_to_xml(bundle))
    assert translate.bundle_from_xml(ET.fromstring(text)) == bundle


@pytest.mark.parametrize("namespace", [LEGACY, V2])
def test_bundle_with_wrong_key_size_is_refused(namespace: Namespace) -> None:
    """A 0.3 bundle with 32-byte keys (or a 2 bundle with 33) is refused, not passed on."""
    other = random_bundle(V2 if namespace is LEGACY else LEGACY)
    wrong = WireBundle(
        namespace,
        other.identity_key,
        other.signed_pre_key,
        other.signed_pre_key_id,
        other.signed_pre_key_signature,
        other.pre_keys,
    )
    with pytest.raises(MalformedStanza, match="bytes"):
        translate.bundle_from_xml(translate.bundle_to_xml(wrong))


def test_bundle_without_prekeys_is_refused() -> None:
    xml = translate.bundle_to_xml(random_bundle(V2, pre_keys=1))
    prekeys = xml.find(f"{{{V2}}}prekeys")
    assert prekeys is not None
    prekeys.clear()
    with pytest.raises(MalformedStanza, match="prekeys"):
        translate.bundle_from_xml(xml)
