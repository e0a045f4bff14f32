"""Server certificates in words: fingerprints, certificate pins, and why a certificate failed.

OpenSSL stays the judge of a certificate (CA chain and the JID's domain); this module only
explains its verdict. A failed verification ends the TLS handshake before we see the
certificate, so `fetch_certificate` opens one more connection to the same address that only
reads it (a TLS handshake without verification; over STARTTLS the stream header and
`<starttls/>` come first). Nothing else is sent on that connection: no stanza, no credentials.

A pin is the SHA-256 of the server's certificate (DER), written as hex with or without colons.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ssl
import xml.etree.ElementTree as ET
from typing import Any

from cryptography import x509
from cryptography.x509.oid import ExtensionOID, NameOID

PROBE_TIMEOUT = 5.0
TLS_NS = "urn:ietf:params:xml:ns:xmpp-tls"
_NAME_MISMATCH = (62, 64)  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH
_SELF_SIGNED = (18, 19)  # X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, _SELF_SIGNED_CERT_IN_CHAIN
_UNKNOWN_ISSUER = (2, 20, 21)  # unable to get (local) issuer certificate, leaf signature
_EXPIRED = 10
_NOT_YET_VALID = 9


def fingerprint(der: bytes) -> str:
    """The SHA-256 of a DER certificate as upper-case hex pairs joined by colons."""
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def fingerprint_from_hex(compact: str) -> str:
    """`AA:BB:…` from 64 hex digits."""
    upper = compact.upper()
    return ":".join(upper[i : i + 2] for i in range(0, len(upper), 2))


def verification_reason(error: ssl.SSLCertVerificationError, der: bytes | None) -> str:
    """Why OpenSSL refused a certificate, in words ("self-signed", "expired", …)."""
    code = getattr(error, "verify_code", None)
    if code in _SELF_SIGNED or (der is not None and _is_self_signed(der)):
        return "self-signed"
    if code in _UNKNOWN_ISSUER:
        issuer = _issuer(der)
        return f"issued by an unknown authority{f' ({issuer})' if issuer else ''}"
    if code == _EXPIRED:
        return "expired"
    if code == _NOT_YET_VALID:
        return "not valid yet"
    message = getattr(error, "verify_message", None) or getattr(error, "reason", None)
    return str(message or error)


def describe_refusal(error: ssl.SSLCertVerificationError, der: bytes | None, domain: str) -> str:
    """One line for a certificate OpenSSL refused (the domain it was checked against, the
    reason, the fingerprint when known, and what to do about it)."""
    if der is None:
        return refusal_problem(error, der, domain)
    return (
        f"{refusal_problem(error, der, domain)}, SHA-256 {fingerprint(der)}; if the server's "
        "admin confirms this fingerprint, pin it with "
        "`tui-omemo account set --pin-certificate SHA256`"
    )


def refusal_problem(error: ssl.SSLCertVerificationError, der: bytes | None, domain: str) -> str:
    """What is wrong with a refused certificate, without its fingerprint ("the certificate of
    D is not trusted: self-signed", "… does not name D (it is for …)")."""
    if getattr(error, "verify_code", None) in _NAME_MISMATCH:
        names = _names(der)
        for_whom = f" (it is for {', '.join(names)})" if names else ""
        return f"the certificate of {domain} does not name {domain}{for_whom}"
    return f"the certificate of {domain} is not trusted: {verification_reason(error, der)}"


def _certificate(der: bytes | None) -> x509.Certificate | None:
    if der is None:
        return None
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError:
        return None


def _is_self_signed(der: bytes) -> bool:
    certificate = _certificate(der)
    return certificate is not None and certificate.issuer == certificate.subject


def _issuer(der: bytes | None) -> str:
    certificate = _certificate(der)
    if certificate is None:
        return ""
    names = certificate.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
    return f"CN={names[0].value!s}" if names else certificate.issuer.rfc4514_string()


def _names(der: bytes | None) -> list[str]:
    """The DNS names a certificate is for (subjectAltName, else its common name)."""
    certificate = _certificate(der)
    if certificate is None:
        return []
    with contextlib.suppress(x509.ExtensionNotFound):
        extension = certificate.extensions.get_extension_for_oid(
            ExtensionOID.SUBJECT_ALTERNATIVE_NAME
        )
        alternative = extension.value
        assert isinstance(alternative, x509.SubjectAlternativeName)
        names = alternative.get_values_for_type(x509.DNSName)
        if names:
            return names[:3]
    common = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return [str(common[0].value)] if common else []


def unverified_context() -> ssl.SSLContext:
    """A client TLS context that accepts any certificate (for pins and probes only: the
    caller compares the certificate itself)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def fetch_certificate(
    host: str, port: int, *, domain: str, starttls: bool, within: float = PROBE_TIMEOUT
) -> bytes | None:
    """The certificate (DER) the server at `host:port` shows for `domain`, or None when it
    cannot be read. Sends a stream header and `<starttls/>` first when `starttls`."""
    try:
        return await asyncio.wait_for(_probe(host, port, domain, starttls), within)
    except (OSError, TimeoutError, ET.ParseError, ValueError):
        return None


async def _probe(host: str, port: int, domain: str, starttls: bool) -> bytes | None:
    context = unverified_context()
    if not starttls:
        _, writer = await asyncio.open_connection(host, port, ssl=context, server_hostname=domain)
        return _close_with_certificate(writer)
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(
            f"<?xml version='1.0'?><stream:stream to='{domain}' version='1.0' "
            "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>".encode()
        )
        await _answer(reader, writer, f"{{{TLS_NS}}}starttls", f"<starttls xmlns='{TLS_NS}'/>")
        await _answer(reader, writer, f"{{{TLS_NS}}}proceed", None)
        await writer.start_tls(context, server_hostname=domain)
        return _close_with_certificate(writer)
    finally:
        writer.close()


async def _answer(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, tag: str, reply: str | None
) -> None:
    """Read until an element `tag` has been seen (at any depth), then write `reply`.

    Raises:
        ValueError: the stream ended first.
    """
    parser: Any = ET.XMLPullParser(events=("start",))  # the stream, or just `<proceed/>`
    while True:
        chunk = await reader.read(4096)
        if not chunk:
            raise ValueError("the stream ended")
        parser.feed(chunk)
        if any(_tag_of(element) == tag for _, element in parser.read_events()):
            if reply is not None:
                writer.write(reply.encode())
            return


def _tag_of(element: object) -> str | None:
    return element.tag if isinstance(element, ET.Element) else None


def _close_with_certificate(writer: asyncio.StreamWriter) -> bytes | None:
    ssl_object = writer.get_extra_info("ssl_object")
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    writer.close()
    return der if der else None
