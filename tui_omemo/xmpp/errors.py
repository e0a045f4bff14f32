"""What can go wrong in the XMPP adapter: one root, `TransportError`, leaves named for the failure.

The root and the leaves the service catches (`MalformedStanza`, `NotConnected`) are the port's
(`service/ports.py`), so that the service never imports this package.

The service turns these into events a person can read (STYLE.md, "one exception root per layer").
Messages never contain key material or message text.
"""

from __future__ import annotations

from tui_omemo.service.ports import MalformedStanza, NotConnected, TransportError

__all__ = [
    "ArchiveQueryFailed",
    "AuthenticationFailed",
    "BundleNotFound",
    "CertificateNotTrusted",
    "ConnectionFailed",
    "InsecureConnectionRefused",
    "MalformedStanza",
    "NotConnected",
    "PubSubRequestFailed",
    "TransportError",
]


class InsecureConnectionRefused(TransportError):
    """Plaintext c2s was asked for where only TLS is allowed (any non-loopback address, or
    loopback without the explicit flag), the server offered no TLS, or it offered no login
    method we accept (or only ones weaker than the one this account used before)."""


class CertificateNotTrusted(InsecureConnectionRefused):
    """The server's certificate was refused: not trusted (self-signed, unknown authority,
    expired), not for the JID's domain, or not the certificate pinned for the account.

    Attributes:
        domain: the JID's domain the certificate was checked against.
        fingerprint: the refused certificate's SHA-256 (`AA:BB:…`), or None when it could not
            be read.
        problem: what is wrong with it, without the fingerprint ("the certificate of D is
            not trusted: self-signed"); the message when not given.
    """

    def __init__(
        self,
        message: str,
        domain: str = "",
        fingerprint: str | None = None,
        problem: str | None = None,
    ) -> None:
        super().__init__(message)
        self.domain = domain
        self.fingerprint = fingerprint
        self.problem = message if problem is None else problem


class ConnectionFailed(TransportError):
    """The TCP connection or the XMPP stream could not be established in time."""


class AuthenticationFailed(TransportError):
    """The server refused our credentials (or we offered no mechanism it accepts)."""


class PubSubRequestFailed(TransportError):
    """A PEP publish, fetch or configure request returned an error.

    Attributes:
        condition: the XMPP error condition (`item-not-found`, `forbidden`, …), or `timeout`.
    """

    def __init__(self, message: str, condition: str) -> None:
        super().__init__(message)
        self.condition = condition


class BundleNotFound(PubSubRequestFailed):
    """The contact has not published a bundle for that device (or it is not visible to us)."""


class ArchiveQueryFailed(TransportError):
    """A MAM query returned an error or timed out."""
