"""The exceptions of the protocol core, all under one root: `ProtocolError`.

Every failure of `Engine.decrypt` is one of these, and a failed call leaves the state untouched
(nothing to commit). The service layer turns them into events a person can read; the names say
what failed, not how to react.
"""

from __future__ import annotations


class ProtocolError(Exception):
    """Root of every error raised by `tui_omemo.protocol`."""


class MalformedMessage(ProtocolError):
    """Bytes that do not parse: bad protobuf, wrong lengths, wrong version byte, bad padding."""


class NotForThisDevice(ProtocolError):
    """The `<encrypted>` element carries no `<key>` for our device id (discard quietly)."""


class NoSession(ProtocolError):
    """A non-key-exchange message arrived from a device we have no session with."""


class Duplicate(ProtocolError):
    """The message was already decrypted (MAM / carbon / resend duplicate): ignore silently."""


class AuthenticationFailed(ProtocolError):
    """A MAC or AES-GCM tag did not verify: the message was tampered with or is not ours."""


class TooManySkipped(ProtocolError):
    """Decrypting would need more skipped message keys than the DoS limit (1000) allows."""


class UnknownPreKey(ProtocolError):
    """A key exchange names a prekey or signed prekey we do not have (any more)."""


class UnsupportedKeyMaterial(ProtocolError):
    """0.3 key material of the old 16-byte form (tag at the end of the payload): rejected.

    See `tui_omemo.protocol.legacy.payload` for why this is refused rather than accepted with a
    flag.
    """


class InvalidBundle(ProtocolError):
    """A bundle is unusable: bad signature, wrong key lengths or prefixes, too few prekeys."""


class BundleUnavailable(ProtocolError):
    """The directory has no bundle for a device (not published, or the fetch failed).

    `Directory.fetch_bundle` implementations raise this; the engine reports the device as
    skipped with `SkipReason.NO_BUNDLE`.
    """


class StateCorrupted(ProtocolError):
    """Persisted state is missing a part or has an unknown version; never regenerated over."""
