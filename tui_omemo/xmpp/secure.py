"""`SecureStream`: slixmpp's client stream with tui-omemo's transport rules (DESIGN.md §3.13).

* **Nothing before TLS.** When the stream features arrive on a connection that is not TLS
  (neither direct TLS nor STARTTLS done), the only thing we answer is `<starttls/>`; a server
  that does not offer it is left at once, before any SASL mechanism is chosen. An outgoing
  filter backs this up: on such a connection every element but `<starttls/>` is dropped and the
  connection is closed. The one exception is the account's loopback-plaintext switch, and only
  when the peer's address really is a loopback address.
* **Login methods.** Only SCRAM (the `-PLUS` variants preferred when offered, as slixmpp's
  scores do) and PLAIN are used: never ANONYMOUS, EXTERNAL, LOGIN or the MD5 ones. One
  mechanism per connection: after the server's `<failure>` no other one is tried. With a
  `pinned_mechanism` (the best one this account logged in with before) only mechanisms at
  least as strong are accepted, as Conversations does: a server or an attacker offering only
  PLAIN (or a weaker SCRAM) after SCRAM-SHA-256 gets a refusal, not the password.
* **Certificates.** slixmpp checks them against the JID's domain, wherever the connection
  goes (`--server`, SRV targets). A refused certificate ends the connection attempt with a
  `CertificateNotTrusted` naming the reason and the certificate's SHA-256; with a
  `certificate_pin`, exactly the certificate with that SHA-256 is accepted (CA trust neither
  needed nor enough).
* **Where to connect.** Without an explicit host slixmpp looks up XEP-0368
  `_xmpps-client._tcp` and RFC 6120 `_xmpp-client._tcp` records (in priority and weight
  order) and falls back to the domain; `resolver` replaces aiodns (tests).

A refusal is kept in `refusal` and announced with the `stream_refused` event before the
connection closes, so the caller can report it instead of "the server closed the stream".
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import ssl
from dataclasses import dataclass, replace
from typing import Any

import slixmpp
from slixmpp.xmlstream import resolver as slixmpp_resolver

from tui_omemo.xmpp.certificates import (
    describe_refusal,
    fetch_certificate,
    fingerprint,
    refusal_problem,
    unverified_context,
)
from tui_omemo.xmpp.errors import (
    AuthenticationFailed,
    CertificateNotTrusted,
    InsecureConnectionRefused,
    TransportError,
)

log = logging.getLogger(__name__)

STARTTLS = "{urn:ietf:params:xml:ns:xmpp-tls}starttls"
REFUSED = "stream_refused"
"""The event a refusal is announced with (its data: the `TransportError`)."""
_HASH_RANK = {"SHA-1": 1, "SHA-224": 2, "SHA-256": 3, "SHA-384": 4, "SHA-512": 5}
ACCEPTED_MECHANISMS = frozenset(
    {"PLAIN"}
    | {f"SCRAM-{name}" for name in _HASH_RANK}
    | {f"SCRAM-{name}-PLUS" for name in _HASH_RANK}
)
"""What we log in with; everything else (ANONYMOUS, EXTERNAL, LOGIN, DIGEST-MD5, …) never."""
_UNENCRYPTED_OPTIONS = (
    "unencrypted_plain",
    "unencrypted_digest",
    "unencrypted_cram",
    "unencrypted_scram",
)


def mechanism_rank(name: str) -> int:
    """How strong a login mechanism is: -1 for ones we never use, 0 for PLAIN, then SCRAM by
    hash (a `-PLUS` variant ranks with its hash: channel binding is preferred, not pinned)."""
    if name not in ACCEPTED_MECHANISMS:
        return -1
    if name == "PLAIN":
        return 0
    return _HASH_RANK[name.removeprefix("SCRAM-").removesuffix("-PLUS")]


def accepted_mechanisms(pinned: str | None) -> frozenset[str]:
    """The mechanisms we may log in with, given the best one used before (`pinned`)."""
    floor = max(mechanism_rank(pinned), 0) if pinned else 0
    return frozenset(name for name in ACCEPTED_MECHANISMS if mechanism_rank(name) >= floor)


@dataclass(frozen=True, slots=True)
class StreamSecurity:
    """What the account remembers about its server's security.

    Attributes:
        certificate_pin: accept exactly the certificate with this SHA-256 (`AA:BB:…`, see
            `certificates.normalize_pin`) instead of a CA-trusted one; None: CA trust.
        pinned_mechanism: the best SASL mechanism this account logged in with before; weaker
            ones are refused. None: any accepted one.
        resolver: a DNS resolver with aiodns's `query_dns`/`getaddrinfo` (tests); None:
            slixmpp's default (aiodns).
    """

    certificate_pin: str | None = None
    pinned_mechanism: str | None = None
    resolver: Any = None


def is_loopback_address(address: str | None) -> bool:
    """True for a loopback IP address (127.0.0.0/8, ::1, ::ffff:127.x)."""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return bool(ip.is_loopback or (mapped is not None and mapped.is_loopback))


class SecureStream(slixmpp.ClientXMPP):
    """slixmpp's client stream under the rules of the module docstring.

    Args:
        jid, password: the account.
        plaintext_loopback: allow an unencrypted stream to a loopback peer.
        security: pins and the resolver.
    """

    def __init__(
        self, jid: str, password: str, *, plaintext_loopback: bool, security: StreamSecurity
    ) -> None:
        super().__init__(jid, password)
        self.security = security
        self.plaintext_loopback = plaintext_loopback
        self.refusal: TransportError | None = None
        self.mechanism_used: str | None = None
        self._server_refused: str | None = None
        """The SASL failure condition the server answered with (`not-authorized`, …)."""
        self._plaintext_peer = False
        self._attempt: tuple[str, int, bool] | None = None
        self._probing: asyncio.Future[None] | None = None
        self._handshaking = False
        if plaintext_loopback:
            self.enable_direct_tls = False
            self.enable_starttls = False
            self.enable_plaintext = True
        if security.certificate_pin is not None:
            self.ssl_context = unverified_context()  # connection_made compares the pin
        self._configure_mechanisms()
        self.add_filter("out", self._only_after_tls, order=0)
        self.add_event_handler("failed_auth", self._on_failed_auth)
        self.add_event_handler("auth_success", self._on_auth_success)
        self.add_event_handler("connection_failed", self._on_connection_failed)
        self.add_event_handler("ssl_invalid_chain", self._on_invalid_chain)

    def _configure_mechanisms(self) -> None:
        plugins: Any = self.plugin
        mechanisms = plugins["feature_mechanisms"]
        mechanisms.use_mech = None  # slixmpp picks ANONYMOUS for a JID without a user name
        mechanisms.use_mechs = set(accepted_mechanisms(self.security.pinned_mechanism))
        for option in _UNENCRYPTED_OPTIONS:
            mechanisms.config[option] = self.plaintext_loopback and option == "unencrypted_scram"

    # --- connection -------------------------------------------------------------------------

    @property
    def protected(self) -> bool:
        """True when the connection is TLS, or plaintext allowed to this loopback peer."""
        return isinstance(self.socket, ssl.SSLObject | ssl.SSLSocket) or self._plaintext_peer

    async def _attempt_connection(
        self, host: str, port: int, tls: bool, server_hostname: str | None
    ) -> bool:
        self._attempt = (host, port, tls)
        result: bool = await super()._attempt_connection(host, port, tls, server_hostname)
        return result

    async def get_dns_records(
        self, domain: str, port: int | None = None
    ) -> list[tuple[str, str, str, int]]:
        """slixmpp's SRV resolution (XEP-0368 and RFC 6120 records), with our resolver when
        one is given."""
        if self.security.resolver is None:
            records: list[tuple[str, str, str, int]] = await super().get_dns_records(domain, port)
            return records
        services = [*self.tls_services, *self.starttls_services]
        return await slixmpp_resolver.resolve(
            domain, port or self.default_port, services=services,
            resolver=self.security.resolver, loop=asyncio.get_running_loop(),
        )  # fmt: skip

    def connection_made(self, transport: Any, send_event: bool = True) -> None:
        """Check the certificate pin (TLS) or the loopback peer (plaintext) before slixmpp
        writes the stream header."""
        ssl_object = transport.get_extra_info("ssl_object")
        peer = transport.get_extra_info("peername")
        self._plaintext_peer = (
            ssl_object is None
            and self.plaintext_loopback
            and is_loopback_address(peer[0] if peer else None)
        )
        problem = self._pin_problem(ssl_object) if ssl_object is not None else None
        if problem is not None:
            self.cancel_connection_attempt()
            self._refuse(problem)
            transport.abort()
            return
        super().connection_made(transport, send_event)

    def _pin_problem(self, ssl_object: ssl.SSLObject) -> TransportError | None:
        pin = self.security.certificate_pin
        if pin is None:
            return None
        der = ssl_object.getpeercert(binary_form=True)
        seen = fingerprint(der) if der else "none"
        if seen == pin:
            return None
        domain = self.boundjid.domain
        problem = f"the certificate of {domain} is not the pinned one"
        return CertificateNotTrusted(
            f"{problem}: SHA-256 {seen}, pinned {pin}",
            domain,
            fingerprint(der) if der else None,
            problem,
        )

    async def _handle_stream_features(self, features: Any) -> bool | None:
        """Negotiate the features only on a protected connection; before that, STARTTLS or
        nothing."""
        if self.protected:
            result: bool | None = await super()._handle_stream_features(features)
            return result
        if "starttls" in features["features"] and self.enable_starttls:
            handler, _restart = self._stream_feature_handlers["starttls"]
            handler(features)
            return True
        self._refuse(InsecureConnectionRefused(self._unprotected_reason()))
        self.abort()
        return True

    def _unprotected_reason(self) -> str:
        if self.plaintext_loopback:
            peer = self.transport.get_extra_info("peername") if self.transport else None
            return (
                "plaintext is only allowed to a loopback address, and "
                f"{peer[0] if peer else 'the server'} is not one; refusing to log in"
            )
        return "the server offered no TLS; refusing to log in or send anything over plaintext"

    def _only_after_tls(self, stanza: Any) -> Any:
        """The outgoing backstop: on an unprotected connection only `<starttls/>` leaves."""
        if self.protected or stanza.xml.tag == STARTTLS:
            return stanza
        self._refuse(
            InsecureConnectionRefused(
                "refusing to send anything before TLS (the connection is not encrypted)"
            )
        )
        self.abort()
        return None

    # --- refusals ---------------------------------------------------------------------------

    def _refuse(self, error: TransportError) -> None:
        if self.refusal is None:
            self.refusal = error
            log.warning("%s", error)
            self.event(REFUSED, error)

    def reset_refusal(self) -> None:
        """Forget a refusal before a new connection attempt."""
        self.refusal = None
        self._server_refused = None
        self._probing = None
        self._configure_mechanisms()

    def _on_failed_auth(self, failure: Any) -> None:
        """The server refused a login: no other mechanism is tried (a wrong password stays
        wrong, and a server failing SCRAM on purpose would get the password by PLAIN)."""
        self._server_refused = str(failure["condition"] or "not-authorized")
        plugins: Any = self.plugin
        plugins["feature_mechanisms"].use_mechs = set()

    def _on_auth_success(self, _stanza: object) -> None:
        """Remember the mechanism; a reconnect of this stream accepts nothing weaker."""
        plugins: Any = self.plugin
        mech = plugins["feature_mechanisms"].mech
        self.mechanism_used = None if mech is None else str(mech.name)
        used = self.mechanism_used or ""
        pinned = self.security.pinned_mechanism
        if mechanism_rank(used) > max(mechanism_rank(pinned) if pinned else 0, 0):
            self.security = replace(self.security, pinned_mechanism=used.removesuffix("-PLUS"))

    def auth_error(self) -> TransportError:
        """Why the login failed (after slixmpp's `failed_all_auth`)."""
        if self.refusal is not None:
            return self.refusal
        if self._server_refused is not None:
            login = f"the server refused the login for {self.boundjid.bare}"
            if self._server_refused == "not-authorized":
                return AuthenticationFailed(f"{login}: it refused the password")
            return AuthenticationFailed(f"{login} ({self._server_refused})")
        plugins: Any = self.plugin
        offered = sorted(plugins["feature_mechanisms"].mech_list)
        return InsecureConnectionRefused(self._no_mechanism(offered))

    def _no_mechanism(self, offered: list[str]) -> str:
        pinned = self.security.pinned_mechanism
        listed = ", ".join(offered) or "none"
        weaker = [name for name in offered if name in ACCEPTED_MECHANISMS]
        if pinned and weaker:
            return (
                f"the server offered only {listed}, weaker than {pinned} this account logged "
                "in with before; refusing (the server, or someone in between, may be "
                "downgrading the login)"
            )
        return f"the server offered no login method tui-omemo accepts (offered: {listed})"

    @property
    def refusing(self) -> bool:
        """True during the STARTTLS handshake and while a certificate refusal is described:
        the connection may close meanwhile, and then `REFUSED` follows."""
        return self._handshaking or (self._probing is not None and not self._probing.done())

    async def start_tls(self) -> bool:
        """slixmpp's STARTTLS handshake; a failure is always a refusal (a certificate one
        is described by `_on_invalid_chain`)."""
        self._handshaking = True
        try:
            done: bool = await super().start_tls()
        finally:
            self._handshaking = False
        if not done and self._probing is None:
            self._refuse(
                InsecureConnectionRefused(f"the TLS handshake with {self.boundjid.domain} failed")
            )
        return done

    def _on_connection_failed(self, error: object) -> None:
        """A certificate refused on a direct TLS connection ends the attempt (no fallback to
        another address, which would bury the reason)."""
        if isinstance(error, ssl.SSLCertVerificationError) and self._attempt is not None:
            host, port, _tls = self._attempt
            self.cancel_connection_attempt()
            self._probing = asyncio.ensure_future(
                self._refuse_certificate(error, host, port, starttls=False)
            )

    def _on_invalid_chain(self, error: Exception) -> None:
        """STARTTLS: slixmpp leaves the connection to us when this event is handled."""
        host, port = self._attempt[:2] if self._attempt else (self.boundjid.domain, 5222)
        if isinstance(error, ssl.SSLCertVerificationError):
            self._probing = asyncio.ensure_future(
                self._refuse_certificate(error, host, port, starttls=True)
            )
        else:
            self._refuse(
                InsecureConnectionRefused(
                    f"TLS with {self.boundjid.domain} failed: {getattr(error, 'reason', error)}"
                )
            )
        self.abort()

    async def _refuse_certificate(
        self, error: ssl.SSLCertVerificationError, host: str, port: int, *, starttls: bool
    ) -> None:
        domain = self.boundjid.domain
        der = await fetch_certificate(host, port, domain=domain, starttls=starttls)
        seen = fingerprint(der) if der is not None else None
        problem = refusal_problem(error, der, domain)
        message = describe_refusal(error, der, domain)
        self._refuse(CertificateNotTrusted(message, domain, seen, problem))
