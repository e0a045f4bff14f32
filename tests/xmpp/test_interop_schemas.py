"""Our XML against an independent implementation: python-omemo's `twomemo`/`oldmemo` XML
schemas validate what we write, and their serializer's device lists parse with ours.
(Tests only; production code never imports another OMEMO implementation.)"""

from __future__ import annotations

import os

import pytest

from tests.xmpp.test_translate import legacy_encrypted, random_bundle, v2_encrypted
from tui_omemo.model import Namespace
from tui_omemo.protocol.elements import DeviceList, DeviceListEntry
from tui_omemo.xmpp import translate

oldmemo_etree = pytest.importorskip("oldmemo.etree")
twomemo_etree = pytest.importorskip("twomemo.etree")
omemo = pytest.importorskip("omemo")

ETREE = {Namespace.LEGACY: oldmemo_etree, Namespace.V2: twomemo_etree}


@pytest.mark.parametrize("namespace", [Namespace.LEGACY, Namespace.V2])
def test_our_encrypted_elements_validate_against_their_schema(namespace: Namespace) -> None:
    for payload in (b"ciphertext", None):
        element = (
            legacy_encrypted(payload) if namespace is Namespace.LEGACY else v2_encrypted(payload)
        )
        ETREE[namespace].MESSAGE_SCHEMA.validate(translate.encrypted_to_xml(element))


@pytest.mark.parametrize("namespace", [Namespace.LEGACY, Namespace.V2])
def test_our_bundles_validate_against_their_schema(namespace: Namespace) -> None:
    ETREE[namespace].BUNDLE_SCHEMA.validate(translate.bundle_to_xml(random_bundle(namespace)))


@pytest.mark.parametrize("namespace", [Namespace.LEGACY, Namespace.V2])
def test_our_device_lists_validate_against_their_schema(namespace: Namespace) -> None:
    label = "laptop" if namespace is Namespace.V2 else None
    signature = os.urandom(64) if namespace is Namespace.V2 else None
    device_list = DeviceList(namespace, (DeviceListEntry(1, label, signature), DeviceListEntry(2)))
    ETREE[namespace].DEVICE_LIST_SCHEMA.validate(translate.device_list_to_xml(device_list))


def test_their_device_lists_parse_with_ours() -> None:
    signature = os.urandom(64)
    v2 = twomemo_etree.serialize_device_list(
        {31415: omemo.SignedLabel(label="phone", signature=signature), 4223: None}
    )
    parsed = translate.device_list_from_xml(v2)
    assert set(parsed.devices) == {
        DeviceListEntry(31415, "phone", signature),
        DeviceListEntry(4223),
    }
    legacy = oldmemo_etree.serialize_device_list({1234567: None, 89: None})
    assert translate.device_list_from_xml(legacy).device_ids == {1234567, 89}
