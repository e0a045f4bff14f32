"""Byte-level interop smoke test against python-omemo (oldmemo / twomemo), one per version.

The exhaustive interop suite lives in `test_interop_engine.py`; this one checks early that our
bytes are right: sizes from OMEMO-WIRE.md, their key exchange into our engine, our answer and
our own key exchange into theirs.
"""

from __future__ import annotations

import dataclasses

import pytest

from tests.fakes import FakeDevice, MemoryDirectory
from tests.protocol.peers import Peer
from tui_omemo.model import Namespace
from tui_omemo.protocol.elements import EncryptedElement

US, THEM, THEM_ID = "us@example.org", "them@example.net", 31415
# sizes of a payload message's <key> per OMEMO-WIRE.md §3.4 / §4.3
RATCHET_MESSAGE_SIZE = {Namespace.LEGACY: 98, Namespace.V2: 124}


def received(element: EncryptedElement) -> EncryptedElement:
    """As parsed from XML: 0.3 keys carry no JID."""
    if element.namespace is Namespace.V2:
        return element
    return dataclasses.replace(
        element, keys=tuple(dataclasses.replace(k, bare_jid=None) for k in element.keys)
    )


@pytest.mark.parametrize("namespace", list(Namespace))
async def test_interop_smoke(namespace: Namespace) -> None:
    directory = MemoryDirectory()
    us = await FakeDevice.create(US, directory)
    peer = await Peer.create(namespace, THEM, THEM_ID, pre_keys=30)
    directory.announce(namespace, THEM, THEM_ID)
    directory.publish_bundle(THEM, THEM_ID, await peer.bundle())

    # they start from our bundle; we decrypt and answer; they decrypt our answer
    first = await peer.encrypt([us.ref], b"from them", {us.ref: await us.engine.bundle(namespace)})
    got = await us.receive(first, THEM)
    assert (got.plaintext, got.key_exchange) == (b"from them", True)
    answer = await us.send(namespace, [THEM], b"from us")
    key = answer.element.key_for(THEM_ID)
    assert key is not None
    assert not key.key_exchange
    assert len(key.data) == RATCHET_MESSAGE_SIZE[namespace]
    assert (await peer.decrypt(received(answer.element), US)).plaintext == b"from us"

    # the other direction: a second device of ours builds the session from their bundle
    us2 = await FakeDevice.create(US, directory)
    ours = await us2.send(namespace, [THEM], b"our key exchange")
    key = ours.element.key_for(THEM_ID)
    assert key is not None
    assert key.key_exchange
    decrypted = await peer.decrypt(received(ours.element), US)
    assert (decrypted.plaintext, decrypted.new_session) == (b"our key exchange", True)
    reply = await peer.encrypt([us2.ref], None)  # their empty message confirms the session
    assert (await us2.receive(reply, THEM)).plaintext is None
    follow = await us2.send(namespace, [THEM], b"confirmed")
    key = follow.element.key_for(THEM_ID)
    assert key is not None
    assert not key.key_exchange
    assert (await peer.decrypt(received(follow.element), US)).plaintext == b"confirmed"


async def test_twomemo_verifies_our_device_label_signature() -> None:
    import twomemo

    us = await FakeDevice.create(US, MemoryDirectory())
    peer = await Peer.create(Namespace.V2, THEM, THEM_ID, pre_keys=25)
    assert isinstance(peer.backend, twomemo.Twomemo)
    signature = us.engine.sign_device_label("tui on laptop")
    assert await peer.backend.verify_label_signature(
        "tui on laptop", signature, us.engine.identity_key_ed25519
    )
