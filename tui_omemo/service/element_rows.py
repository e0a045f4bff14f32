"""The JSON form of an `<encrypted>` element (ciphertext base64-encoded), shared by the inbox
rows (`ports.Inbound`) and the outbox rows (`service/outbox.py`); moved out of `ports.py` so
that it stays under 600 lines."""

from __future__ import annotations

from typing import Any

from tui_omemo.model import Namespace
from tui_omemo.protocol.codec import b64, unb64
from tui_omemo.protocol.elements import EncryptedElement, KeyElement


def element_json(element: EncryptedElement) -> dict[str, Any]:
    return {
        "namespace": element.namespace.value,
        "sid": element.sender_device_id,
        "iv": None if element.iv is None else b64(element.iv),
        "payload": None if element.payload is None else b64(element.payload),
        "keys": [
            {
                "jid": key.bare_jid,
                "rid": key.device_id,
                "data": b64(key.data),
                "kex": key.key_exchange,
            }
            for key in element.keys
        ],
    }


def element_from_json(data: dict[str, Any]) -> EncryptedElement:
    keys = tuple(
        KeyElement(key["jid"], int(key["rid"]), unb64(key["data"]), bool(key["kex"]))
        for key in data["keys"]
    )
    return EncryptedElement(
        Namespace(data["namespace"]),
        int(data["sid"]),
        keys,
        None if data["iv"] is None else unb64(data["iv"]),
        None if data["payload"] is None else unb64(data["payload"]),
    )
