"""Helpers for the JSON form of persisted values: base64 bytes and version checks."""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from typing import Any, cast

from tui_omemo.protocol.errors import StateCorrupted
from tui_omemo.protocol.ports import JsonObject, JsonValue


def b64(data: bytes) -> str:
    """Standard base64 text of `data`."""
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def unb64(value: JsonValue) -> bytes:
    """Inverse of `b64`.

    Raises:
        StateCorrupted: not base64 text.
    """
    if not isinstance(value, str):
        raise StateCorrupted("expected base64 text")
    try:  # strict: only the alphabet, padding only at the end (as b64decode(validate=True))
        return binascii.a2b_base64(value, strict_mode=True)
    except (binascii.Error, ValueError) as error:  # ValueError: non-ASCII text
        raise StateCorrupted("bad base64 in stored state") from error


def check_version(value: JsonObject, kind: str, version: int) -> None:
    """Refuse stored values of another model version (no migrations exist yet).

    Raises:
        StateCorrupted: missing or unknown version.
    """
    if value.get("version") != version:
        raise StateCorrupted(f"{kind}: unsupported model version {value.get('version')!r}")


def get_int(value: JsonObject, name: str) -> int:
    """An int field.

    Raises:
        StateCorrupted: missing or not an int.
    """
    field = value.get(name)
    if not isinstance(field, int) or isinstance(field, bool):
        raise StateCorrupted(f"field {name!r} is not an int")
    return field


def get_object(value: JsonObject, name: str) -> JsonObject:
    """A JSON object field.

    Raises:
        StateCorrupted: missing or not an object.
    """
    field = value.get(name)
    if not isinstance(field, dict):
        raise StateCorrupted(f"field {name!r} is not an object")
    return field


def as_json_object(value: Mapping[str, Any]) -> JsonObject:
    """A library's JSON-serializable mapping (x3dh / doubleratchet `.json`) as our JSON type."""
    return cast(JsonObject, dict(value))


def as_library_json(value: JsonObject) -> Any:
    """Our JSON object handed to a library's `from_json` (which validates it itself)."""
    return value
