"""Fingerprints and the `xmpp:` trust URI used to verify devices (OMEMO-WIRE.md §7.1, §7.2).

A fingerprint is the lowercase hex of a device's 32-byte Curve25519 identity key, shown in 8
groups of 8 characters. Both versions show the Curve25519 form (OMEMO 2 converts its Ed25519
identity key), so a device that uses one key in both namespaces shows one fingerprint.

The trust URI is what Conversations and Dino put in their QR codes:
`xmpp:<bare jid>?omemo-sid-<device id>=<64 hex>;omemo-sid-<device id>=<64 hex>`. Parsing follows
Conversations: parameter names are lowercased, only `omemo-sid-<int>` names count, values are
URL-decoded and lowercased, `;` separates parameters and `&` (the https link form) is accepted too.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote

import xeddsa

from tui_omemo.model import Namespace
from tui_omemo.protocol.errors import ProtocolError

FINGERPRINT_GROUP = 8
DEVICE_ID_MIN = 1
DEVICE_ID_MAX = 2**31 - 1
_CURVE_KEY_SIZE = 32
_LEGACY_KEY_TYPE = 0x05
_HEX64 = re.compile(r"[0-9a-f]{64}")
_SID_PREFIX = "omemo-sid-"
_JID_FORBIDDEN = re.compile(r"[\s/\"&'<>:]")


class VerificationError(ProtocolError):
    """Root of the errors raised while building or reading fingerprints and trust URIs."""


class InvalidIdentityKey(VerificationError):
    """An identity key has the wrong size or form for its namespace."""


class InvalidTrustUri(VerificationError):
    """A text is not a usable `xmpp:…?omemo-sid-N=…` trust URI. The message says why."""


@dataclass(frozen=True, slots=True)
class TrustUri:
    """A parsed trust URI: the bare JID and the fingerprints it vouches for.

    Attributes:
        bare_jid: the JID the devices belong to (lowercased).
        fingerprints: device id → 64 lowercase hex characters (Curve25519 identity key), in the
            order of the URI. Match devices on (jid, fingerprint); the device id is a hint.
    """

    bare_jid: str
    fingerprints: Mapping[int, str]


def curve25519_identity_key(identity_key: bytes, namespace: Namespace) -> bytes:
    """The raw 32-byte Curve25519 form of an identity key as it travels in `namespace`.

    Args:
        identity_key: 0.3: `0x05‖curve` (33 B); OMEMO 2: the Ed25519 key (32 B).
        namespace: the namespace the key came from.

    Returns:
        The 32-byte Curve25519 public key.

    Raises:
        InvalidIdentityKey: wrong size, missing `0x05` prefix, or an Ed25519 key that does not
            convert.
    """
    if namespace is Namespace.LEGACY:
        if len(identity_key) != _CURVE_KEY_SIZE + 1 or identity_key[0] != _LEGACY_KEY_TYPE:
            raise InvalidIdentityKey("a 0.3 identity key is 33 bytes starting with 0x05")
        return identity_key[1:]
    if len(identity_key) != _CURVE_KEY_SIZE:
        raise InvalidIdentityKey("an OMEMO 2 identity key is a 32-byte Ed25519 key")
    try:
        return xeddsa.ed25519_pub_to_curve25519_pub(identity_key)
    except (xeddsa.XEdDSAException, ValueError) as error:
        raise InvalidIdentityKey("the Ed25519 identity key does not convert") from error


def fingerprint_hex(identity_key: bytes, namespace: Namespace) -> str:
    """The 64 lowercase hex characters of the Curve25519 identity key (as in trust URIs).

    Raises:
        InvalidIdentityKey: see `curve25519_identity_key`.
    """
    return curve25519_identity_key(identity_key, namespace).hex()


def format_fingerprint(hex64: str) -> str:
    """Split 64 hex characters into 8 groups of 8, separated by spaces, lowercased.

    Raises:
        ValueError: if `hex64` is not 64 hex characters.
    """
    text = hex64.lower()
    if not _HEX64.fullmatch(text):
        raise ValueError("a fingerprint is 64 hex characters")
    return " ".join(text[i : i + FINGERPRINT_GROUP] for i in range(0, 64, FINGERPRINT_GROUP))


def fingerprint(identity_key: bytes, namespace: Namespace) -> str:
    """The fingerprint shown to people: 8 groups of 8 lowercase hex characters.

    Raises:
        InvalidIdentityKey: see `curve25519_identity_key`.
    """
    return format_fingerprint(fingerprint_hex(identity_key, namespace))


def hue_angle(text: str) -> float:
    """The XEP-0392 hue angle (degrees, 0 ≤ angle < 360) of a text.

    SHA-1 of the UTF-8 bytes; the first two bytes as a little-endian 16-bit number, scaled to
    360°. The UI turns the angle into a colour of its theme.
    """
    digest = hashlib.sha1(text.encode(), usedforsecurity=False).digest()
    return int.from_bytes(digest[:2], "little") / 65536 * 360


def fingerprint_hues(shown: str) -> tuple[float, ...]:
    """One XEP-0392 hue angle per group of a fingerprint (the XEP's optional colouring hint).

    Args:
        shown: a fingerprint as `fingerprint` returns it (groups separated by spaces).
    """
    return tuple(hue_angle(group) for group in shown.split())


def build_trust_uri(bare_jid: str, fingerprints: Iterable[tuple[int, str]]) -> str:
    """Build `xmpp:<bare>?omemo-sid-<id>=<hex>;…` for the given devices, in the given order.

    Args:
        bare_jid: the JID the devices belong to.
        fingerprints: (device id, 64 hex characters, spaces allowed) pairs; at least one.

    Returns:
        The URI text, suitable for a QR code.

    Raises:
        InvalidTrustUri: for a bad JID, no devices, a bad device id or fingerprint, or a device id
            given twice.
    """
    jid = _check_bare_jid(bare_jid)
    entries: dict[int, str] = {}
    for device_id, hex_text in fingerprints:
        _add_entry(entries, device_id, hex_text.replace(" ", "").lower())
    if not entries:
        raise InvalidTrustUri("a trust URI needs at least one device")
    query = ";".join(f"{_SID_PREFIX}{sid}={hex64}" for sid, hex64 in entries.items())
    return f"xmpp:{quote(jid, safe='@')}?{query}"


def parse_trust_uri(text: str) -> TrustUri:
    """Read a trust URI scanned or pasted by the user.

    Parameters other than `omemo-sid-<id>` (an XEP-0147 action, `body=…`) are ignored.

    Args:
        text: the URI, surrounding whitespace allowed.

    Returns:
        The bare JID and device id → fingerprint (64 lowercase hex).

    Raises:
        InvalidTrustUri: not an `xmpp:` URI, a bad JID, a bad or duplicate device id, a value that
            is not 64 hex characters, or no device at all.
    """
    stripped = text.strip()
    if stripped[:5].lower() != "xmpp:":
        raise InvalidTrustUri("not an xmpp: URI")
    path, _, query = stripped[5:].partition("?")
    jid = _check_bare_jid(unquote(path))
    entries: dict[int, str] = {}
    for parameter in re.split(r"[;&]", query):
        name, has_value, value = parameter.partition("=")
        name = unquote(name).lower()
        if not name.startswith(_SID_PREFIX):
            continue
        if not has_value:
            raise InvalidTrustUri(f"{name} has no fingerprint")
        _add_entry(entries, _parse_device_id(name[len(_SID_PREFIX) :]), unquote(value).lower())
    if not entries:
        raise InvalidTrustUri("the URI names no omemo-sid-<device id> fingerprint")
    return TrustUri(bare_jid=jid, fingerprints=entries)


def _parse_device_id(text: str) -> int:
    """A device id from the digits after `omemo-sid-`."""
    if not text.isascii() or not text.isdigit():
        raise InvalidTrustUri(f"device id {text!r} is not a number")
    return int(text)


def _add_entry(entries: dict[int, str], device_id: int, hex64: str) -> None:
    """Check one (device id, fingerprint) pair and add it to `entries`."""
    if not DEVICE_ID_MIN <= device_id <= DEVICE_ID_MAX:
        raise InvalidTrustUri(f"device id {device_id} is outside 1 … 2^31−1")
    if device_id in entries:
        raise InvalidTrustUri(f"device id {device_id} appears twice")
    if not _HEX64.fullmatch(hex64):
        raise InvalidTrustUri(f"the fingerprint of device {device_id} is not 64 hex characters")
    entries[device_id] = hex64


def _check_bare_jid(text: str) -> str:
    """Validate a bare JID (`local@domain` or `domain`, no resource) and lowercase it."""
    local, at, domain = text.rpartition("@")
    if (
        not domain
        or (at and not local)
        or "@" in local
        or _JID_FORBIDDEN.search(text)
        or not text.isprintable()
        or len(text) > 3071
    ):
        raise InvalidTrustUri(f"{text!r} is not a bare JID")
    return text.lower()
