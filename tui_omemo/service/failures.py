"""The de-duplication keys of a failure row (DESIGN.md §3 invariants 2 and 3).

A message that fails to decrypt is archived as a failure row (no plaintext) with a security
event. Its de-duplication keys must keep the *same* copy silent when it arrives again (live,
then from MAM or offline storage) but must never match the genuine message that a forger or a
broken server delivers after tampered copies of it: those copies share its id, origin-id and,
when only the payload or the IV was touched, the very `<key>` for our device, so none of the
genuine message's own keys may be recorded for a failure. What is left is the stanza-id our
server (or the room) stamped on this copy, and a digest of everything the copy carries
(sender, device, every key, IV and payload): a genuine copy differs in at least one byte.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from tui_omemo.protocol.elements import EncryptedElement


def element_digest(element: EncryptedElement) -> str:
    """A digest of a whole `<encrypted>` element: any changed byte changes it."""
    digest = hashlib.sha256()

    def field(data: bytes | None) -> None:
        if data is None:
            digest.update(b"\xff")
        else:
            digest.update(len(data).to_bytes(4, "big") + data)

    field(element.namespace.value.encode())
    field(str(element.sender_device_id).encode())
    for key in element.keys:
        field(f"{key.bare_jid or ''}/{key.device_id}/{int(key.key_exchange)}".encode())
        field(key.data)
    field(element.iv)
    field(element.payload)
    return digest.hexdigest()[:32]


def failure_keys(
    keys: Iterable[str], stamped: str, sender: str, element: EncryptedElement | None
) -> tuple[str, ...]:
    """The de-duplication keys of a failure row.

    Args:
        keys: the stanza's de-duplication keys (those of a successful decryption).
        stamped: the prefix of the stanza-id key stamped for us (`sid:` for our own archive,
            `rsid:` for a room's): the only one of `keys` that is kept.
        sender: the author's bare JID.
        element: the `<encrypted>` that failed, or None (a malformed one).

    Returns:
        The kept stanza-id key and a key over the whole element; empty when there is neither.
    """
    kept = [key for key in keys if key.startswith(stamped)]
    if element is not None:
        kept.append(f"fail:{sender}:{element_digest(element)}")
    return tuple(kept)
