"""The hot paths do their work once, and the in-memory store behaves like a JSON database.

Speed itself is measured in `benchmarks/protocol.py`; these tests pin down the structural
properties the speed rests on (one parse per received message, values written back unchanged)
without timing anything.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.fakes import FakeDevice, MemoryDirectory, MemoryStateStore, json_copy
from tui_omemo.model import Namespace
from tui_omemo.protocol.legacy import wire as legacy_wire
from tui_omemo.protocol.ports import JsonObject, JsonValue
from tui_omemo.protocol.session import Session, session_key
from tui_omemo.protocol.v2 import wire as v2_wire

ALICE, BOB = "alice@example.org", "bob@example.org"
PARSERS = {
    Namespace.LEGACY: (legacy_wire, "parse_whisper"),
    Namespace.V2: (v2_wire, "parse_authenticated"),
}


async def talking(namespace: Namespace) -> tuple[FakeDevice, FakeDevice]:
    """Alice and Bob with a confirmed session (one message each way)."""
    directory = MemoryDirectory()
    alice = await FakeDevice.create(ALICE, directory)
    bob = await FakeDevice.create(BOB, directory)
    await bob.receive((await alice.send(namespace, [BOB], b"hello")).element, ALICE)
    await alice.receive((await bob.send(namespace, [ALICE], b"hi")).element, BOB)
    return alice, bob


def counting(monkeypatch: pytest.MonkeyPatch, namespace: Namespace) -> list[bytes]:
    """Record every call of the namespace's outer ratchet-message parser."""
    module, name = PARSERS[namespace]
    original: Callable[[bytes], Any] = getattr(module, name)
    calls: list[bytes] = []

    def parse(data: bytes) -> Any:
        calls.append(data)
        return original(data)

    monkeypatch.setattr(module, name, parse)
    return calls


@pytest.mark.parametrize("namespace", list(Namespace))
async def test_a_message_with_a_new_ratchet_key_is_parsed_once(
    namespace: Namespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob = await talking(namespace)
    sent = await alice.send(namespace, [BOB], b"after a DH step")  # carries a new ratchet key
    calls = counting(monkeypatch, namespace)
    result = await bob.receive(sent.element, ALICE)
    assert result.plaintext == b"after a DH step"
    assert len(calls) == 1


@pytest.mark.parametrize("namespace", list(Namespace))
async def test_sessions_write_their_fixed_fields_back_unchanged(namespace: Namespace) -> None:
    alice, bob = await talking(namespace)
    key = session_key(namespace, bob.ref)
    before = json_copy(alice.store.data[key])
    await bob.receive((await alice.send(namespace, [BOB], b"more")).element, ALICE)
    after = alice.store.data[key]
    changing = {"ratchet", "confirmed", "skipped_oldest", "skipped_next"}
    assert list(after) == list(before)  # same fields in the same order
    assert {k: v for k, v in after.items() if k not in changing} == {
        k: v for k, v in before.items() if k not in changing
    }
    assert after["ratchet"] != before["ratchet"]


@pytest.mark.parametrize("namespace", list(Namespace))
async def test_session_repr_shows_no_ratchet_state(namespace: Namespace) -> None:
    alice, _bob = await talking(namespace)
    stored = next(v for k, v in alice.store.data.items() if k.startswith("session/"))
    session = Session.from_json(stored)
    ratchet: Any = stored["ratchet"]
    own_ratchet_priv: str = ratchet["diffie_hellman_ratchet"]["own_ratchet_priv"]
    shown = repr(session)
    assert "ratchet" not in shown
    assert own_ratchet_priv not in shown
    assert repr(own_ratchet_priv.encode("latin-1")) not in shown
    assert str(session.device.device_id) in shown


async def test_memory_store_hands_out_copies() -> None:
    store = MemoryStateStore()
    listed: list[JsonValue] = [1, "two", None]
    value: JsonObject = {"version": 1, "nested": {"list": listed}}
    await store.store("key", value)
    listed.append(3)
    loaded = await store.load("key")
    assert loaded == {"version": 1, "nested": {"list": [1, "two", None]}}
    assert loaded is not None
    loaded["version"] = 2
    assert (await store.load("key")) == {"version": 1, "nested": {"list": [1, "two", None]}}


@pytest.mark.parametrize("value", [{"bytes": b"\x00"}, {"tuple": (1, 2)}, {"set": {1}}])
async def test_memory_store_refuses_what_json_would_not_give_back(value: Any) -> None:
    with pytest.raises(TypeError):
        await MemoryStateStore().store("key", value)
    with pytest.raises(TypeError):
        json_copy({1: "an int key"})
