"""Tampered copies of one message, for the invariant-2 tests (DESIGN.md §3, issue 13 §2).

`encrypt_for` encrypts a message to a contact through the sender's own engine (its state
committed, nothing archived, nothing sent), `tampered` makes the copies a forger or a broken
server would deliver ahead of it, and `send_copies` puts every copy, then the genuine one, on
the wire through the sender's stream, so the receiver gets them from Prosody with a stanza-id
of its own server each.
"""

from __future__ import annotations

import dataclasses

from tests.service.conftest import Peer
from tui_omemo.model import Namespace, TrustLevel
from tui_omemo.protocol.elements import EncryptedElement, KeyElement
from tui_omemo.service.state import apply_state_changes
from tui_omemo.xmpp import messages

TAMPERINGS: dict[Namespace, tuple[str, ...]] = {
    Namespace.LEGACY: ("payload bit", "payload truncated", "key bit", "iv bit"),
    Namespace.V2: ("payload bit", "payload truncated", "key bit"),
}
"""What each version's copies get: (a) one bit of `<payload>` flipped, (b) `<payload>` one byte
short, (c) one bit flipped inside the ratchet ciphertext of our `<key>` (the ratchet MAC
fails), (d) one bit of the 0.3 `<iv>` flipped (OMEMO 2 has no `<iv>`)."""

MAC_LENGTH = {Namespace.LEGACY: 8, Namespace.V2: 0}
"""Bytes after the ratchet ciphertext inside a `<key>`: 0.3 appends its 8-byte MAC; an OMEMO 2
OMEMOAuthenticatedMessage ends with its OMEMOMessage, whose last field is the ciphertext."""


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def tampered(element: EncryptedElement, device_id: int, how: str) -> EncryptedElement:
    """A copy of `element` with one tampering (see TAMPERINGS) for the device `device_id`."""
    assert element.payload is not None
    match how:
        case "payload bit":
            return dataclasses.replace(
                element, payload=_flip(element.payload, len(element.payload) // 2)
            )
        case "payload truncated":
            return dataclasses.replace(element, payload=element.payload[:-1])
        case "iv bit":
            assert element.iv is not None
            return dataclasses.replace(element, iv=_flip(element.iv, 0))
        case "key bit":
            own = element.key_for(device_id)
            assert own is not None
            assert not own.key_exchange, "a key exchange ends with other fields"
            index = len(own.data) - MAC_LENGTH[element.namespace] - 3
            key = KeyElement(own.bare_jid, own.device_id, _flip(own.data, index), False)
            return dataclasses.replace(
                element, keys=tuple(key if each is own else each for each in element.keys)
            )
    raise ValueError(how)


async def encrypt_for(
    sender: Peer, to: str, namespace: Namespace, text: str, room: str | None = None
) -> EncryptedElement:
    """`text` encrypted by `sender`'s engine for every device of `to` (our own devices left
    out), the advanced state committed as a send would; for a message to `room` (a member
    `to`) the SCE envelope is addressed to the room."""
    session = sender.service.session
    payload = (
        text.encode()
        if namespace is Namespace.LEGACY
        else sender.transport.build_envelope(text, to=room or to, sender=sender.jid)
    )
    async with session.lock:
        result = await session.engine.encrypt(
            namespace, [to], payload, lambda _d, _k: TrustLevel.VERIFIED, own_devices=False
        )
        await sender.service.runner.write(lambda uow: apply_state_changes(uow, result.changes))
    return result.element


def copies(genuine: EncryptedElement, device_id: int) -> list[EncryptedElement]:
    """One tampered copy of `genuine` per entry of TAMPERINGS, in that order."""
    return [tampered(genuine, device_id, how) for how in TAMPERINGS[genuine.namespace]]


def send(
    sender: Peer, to: str, element: EncryptedElement, message_id: str, kind: str = "chat"
) -> None:
    """Put `element` on the wire through `sender`'s stream (with the fallback body), with the
    message id and origin-id `message_id`: a forger copying a stanza keeps them. `kind` is
    the message type (`groupchat` to a room)."""
    sender.xmpp.send_stanza(
        messages.build_encrypted_message(
            element, to, message_type=kind, message_id=message_id, body_hint=FALLBACK
        )
    )


FALLBACK = "fallback body of a tampered test message"
