import pytest
from tests.fakes import MemoryDirectory, MemoryStateStore
from tui_omemo.model import Namespace, TrustLevel
from tui_omemo.protocol.engine import Engine

def trust_all(device, key):
    return TrustLevel.BLINDLY_TRUSTED

@pytest.mark.parametrize("ns", list(Namespace))
async def test_roundtrip(ns):
    d = MemoryDirectory()
    a_store, b_store = MemoryStateStore(), MemoryStateStore()
    alice = await Engine.create("alice@x", a_store, d)
    bob = await Engine.create("bob@x", b_store, d)
    for e in (alice, bob):
        for n in Namespace:
            d.announce(n, e.own_bare_jid, e.device_id)
            d.publish_bundle(e.own_bare_jid, e.device_id, await e.bundle(n))
    r = await alice.encrypt(ns, ["bob@x"], b"hello", trust_all)
    assert not r.skipped, r.skipped
    await alice.commit(r.changes)
    got = await bob.decrypt(r.element, "alice@x")
    assert got.plaintext == b"hello" and got.key_exchange and got.send_empty_message
    await bob.commit(got.changes)
    r2 = await bob.encrypt(ns, ["alice@x"], b"hi back", trust_all)
    await bob.commit(r2.changes)
    assert not r2.element.keys[0].key_exchange
    got2 = await alice.decrypt(r2.element, "bob@x")
    assert got2.plaintext == b"hi back"
    assert got2.sender_identity_key == bob.identity_key
    assert got.sender_identity_key == alice.identity_key
