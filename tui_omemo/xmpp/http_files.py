"""HTTP File Upload (XEP-0363) and the file transfers over HTTP, for encrypted file sharing.

The upload service and its `max-file-size` are found, and a slot requested, with slixmpp's own
`xep_0363` plugin. The bytes go over aiohttp (the client that plugin uses), but the PUT is done
here instead of by the plugin's `upload_file`, for three reasons: the slot's addresses must be
checked before any byte leaves (`https://`, or `http://` only to a loopback host when the
account allows plaintext on loopback, as for the XMPP stream); the body is streamed from an
encrypting reader with progress; and the plugin's helper would pick its own content type
and file name. Downloads stream in chunks. Certificates are verified against the system's
trust store (or `SSL_CERT_FILE`), read when a transfer starts as slixmpp does for the XMPP
stream: aiohttp's own default context is made once, when aiohttp is imported.

The account's certificate pin (`secure.StreamSecurity.certificate_pin`, the one server
certificate the user chose to trust, usually a self-signed one) applies to the file server
too, which is usually the same server: a file server showing exactly the pinned certificate
is accepted (as the XMPP stream accepts it, whatever its issuer and names). Any other
certificate goes through the normal verification (CA chain and the link's host name), so an
upload service on another host with a CA-issued certificate still works. The pinned
certificate is tried first (aiohttp's `Fingerprint`); when the server shows another one,
that connection is dropped before any request byte is sent and the transfer connects again
with the normal verification.

`HttpFiles` implements `service.files.FileTransport` (structurally: the service does not
import this module).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol, cast
from urllib.parse import urlsplit

import aiohttp
from slixmpp.exceptions import IqError, IqTimeout

from tui_omemo.xmpp.certificates import refusal_problem
from tui_omemo.xmpp.client import XmppClient
from tui_omemo.xmpp.errors import TransportError

UPLOAD_FORM = "urn:xmpp:http:upload:0"
READ_CHUNK = 256 * 1024
SLOT_TIMEOUT = 20.0
CONNECT_TIMEOUT = 20.0
READ_TIMEOUT = 60.0
"""Seconds without a byte before a transfer is given up (no limit on the whole transfer:
a large file on a slow line takes what it takes)."""
_HEADERS_ALLOWED = frozenset({"authorization", "cookie", "expires"})


class FileTransferError(TransportError):
    """An upload or download failed (no upload service, an HTTP error, a refused address)."""


class NoUploadService(FileTransferError):
    """The server offers no HTTP File Upload service."""


@dataclass(frozen=True, slots=True)
class UploadSlot:
    """Where to PUT a file (with the headers the service asked for) and where it will be
    fetched from. Both addresses are already checked against the transport policy."""

    put_url: str
    get_url: str
    headers: tuple[tuple[str, str], ...]


class PutTarget(Protocol):
    """What a PUT needs of a slot (an `UploadSlot`, or the service's view of one)."""

    @property
    def put_url(self) -> str: ...

    @property
    def headers(self) -> tuple[tuple[str, str], ...]: ...


@dataclass(frozen=True, slots=True)
class UploadService:
    """The upload service's JID and its size limit in bytes (None: none announced)."""

    jid: str
    max_file_size: int | None


def is_loopback_host(host: str | None) -> bool:
    """True for `localhost` (and its subdomains) and loopback IP addresses."""
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class HttpFiles:
    """File transfers for one logged-in account."""

    def __init__(
        self,
        client: XmppClient | None,
        *,
        allow_plaintext_loopback: bool = False,
        certificate_pin: str | None = None,
    ) -> None:
        """`client`: the logged-in account (uploads need it; a download does not).
        `certificate_pin`: the account's pin (`AA:BB:…`); by default the client's."""
        self._client = client
        self._plain_loopback = allow_plaintext_loopback
        self._pin = certificate_pin
        if certificate_pin is None and client is not None:
            self._pin = client.certificate_pin
        self._service: UploadService | None = None

    def plain_allowed(self, host: str) -> bool:
        """Whether plain HTTP may be used to `host` (loopback with the account's switch)."""
        return self._plain_loopback and is_loopback_host(host)

    def check_url(self, url: str) -> str:
        """`url` when it may be used, else raise.

        Raises:
            FileTransferError: not https (nor http to loopback with the switch).
        """
        parts = urlsplit(url)
        if parts.scheme == "https" and parts.hostname:
            return url
        if parts.scheme == "http" and self.plain_allowed(parts.hostname or ""):
            return url
        raise FileTransferError(f"refusing to transfer a file over {parts.scheme or 'a'} link")

    async def upload_service(self) -> UploadService:
        """Discover the upload service of our server (once per session) and its limit.

        Raises:
            NoUploadService: the server has none.
            TransportError: no answer.
        """
        if self._service is None:
            plugin = self._plugin()
            try:
                info = await plugin.find_upload_service(timeout=SLOT_TIMEOUT)
            except (IqError, IqTimeout) as error:
                raise TransportError("could not ask the server for its upload service") from error
            if info is None:
                raise NoUploadService("the server offers no file upload service (XEP-0363)")
            self._service = UploadService(str(info["from"]), _max_file_size(info))
        return self._service

    async def request_slot(self, name: str, size: int, content_type: str) -> UploadSlot:
        """Ask the upload service for a slot for `size` bytes.

        Raises:
            FileTransferError: refused (too large, quota) or addresses not allowed.
        """
        service = await self.upload_service()
        plugin = self._plugin()
        try:
            result = await plugin.request_slot(
                service.jid, name, size, content_type, timeout=SLOT_TIMEOUT
            )
        except IqError as error:
            text = error.text or error.condition
            raise FileTransferError(f"the upload service refused the file: {text}") from error
        except IqTimeout as error:
            raise FileTransferError("the upload service did not answer") from error
        slot = result["http_upload_slot"]
        headers = tuple(
            (header["name"], header["value"])
            for header in slot["put"]["headers"]
            if header["name"].lower() in _HEADERS_ALLOWED
        )
        put_url = self.check_url(str(slot["put"]["url"]))
        get_url = self.check_url(str(slot["get"]["url"]))
        return UploadSlot(put_url, get_url, headers)

    async def put(self, slot: PutTarget, body: AsyncIterator[bytes], size: int) -> None:
        """Upload exactly `size` bytes from `body` to the slot.

        Raises:
            FileTransferError: an HTTP error or a broken connection.
        """
        headers = {
            "Content-Length": str(size),
            "Content-Type": "application/octet-stream",
            **dict(slot.headers),
        }
        try:
            async with self._request("PUT", slot.put_url, data=body, headers=headers) as response:
                if response.status >= 400:
                    raise FileTransferError(f"the upload failed: HTTP {response.status}")
        except aiohttp.ClientError as error:
            raise FileTransferError(f"the upload failed: {_reason(error)}") from error

    @contextlib.asynccontextmanager
    async def get(self, url: str) -> AsyncIterator[Incoming]:
        """Open a download of `url` (checked against the policy first).

        Raises:
            FileTransferError: refused address, an HTTP error or a broken connection.
        """
        self.check_url(url)
        try:
            async with self._request("GET", url) as response:
                if response.status >= 400:
                    raise FileTransferError(f"the download failed: HTTP {response.status}")
                yield Incoming(response)
        except aiohttp.ClientError as error:
            raise FileTransferError(f"the download failed: {_reason(error)}") from error

    @contextlib.asynccontextmanager
    async def _request(
        self, method: str, url: str, **options: Any
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """The response to one request: over the pinned certificate when the server shows
        it, else with the normal verification (see the module docstring)."""
        pinned = self._pinned(url)
        if pinned is not None:
            async with _session(pinned) as session:
                try:
                    response = await session.request(method, url, **options)
                except (aiohttp.ServerFingerprintMismatch, aiohttp.ClientConnectorError):
                    # another certificate (aiohttp tries the host's other addresses then, and
                    # may report their failure instead): nothing was sent; verify as usual
                    response = None
                if response is not None:
                    async with response:
                        yield response
                    return
        context = await asyncio.to_thread(ssl.create_default_context)
        async with (
            _session(context) as session,
            session.request(method, url, **options) as response,
        ):
            yield response

    def _pinned(self, url: str) -> aiohttp.Fingerprint | None:
        """The pin as aiohttp checks it, for an https `url` when the account has a pin."""
        if self._pin is None or urlsplit(url).scheme != "https":
            return None
        return aiohttp.Fingerprint(bytes.fromhex(self._pin.replace(":", "")))

    def _plugin(self) -> Any:
        if self._client is None:
            raise FileTransferError("uploading needs a connection to the server")
        xmpp: Any = self._client.stream
        if "xep_0363" not in xmpp.plugin:
            xmpp.register_plugin("xep_0363")
        return xmpp.plugin["xep_0363"]


class Incoming:
    """An open HTTP response: its announced size and its body in chunks."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.size: int | None = response.content_length

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body, READ_CHUNK bytes at a time (the last one shorter).

        Raises:
            FileTransferError: the connection broke.
        """
        try:
            async for chunk in self._response.content.iter_chunked(READ_CHUNK):
                yield chunk
        except aiohttp.ClientError as error:
            raise FileTransferError(f"the download broke off: {_reason(error)}") from error


def _session(trust: ssl.SSLContext | aiohttp.Fingerprint) -> aiohttp.ClientSession:
    """A session that checks the server's certificate with `trust`: a context made when the
    transfer starts (the trust store read then, off the event loop: loading it takes tens of
    milliseconds), or the pinned certificate's fingerprint."""
    timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=CONNECT_TIMEOUT, sock_read=READ_TIMEOUT
    )
    connector = aiohttp.TCPConnector(ssl=trust)
    return aiohttp.ClientSession(timeout=timeout, auto_decompress=False, connector=connector)


def _max_file_size(info: Any) -> int | None:
    """`max-file-size` from the service's disco#info form, None when absent or malformed."""
    for form in info["disco_info"].iterables:
        values = form["values"]
        if values.get("FORM_TYPE") in ([UPLOAD_FORM], UPLOAD_FORM):
            with contextlib.suppress(TypeError, ValueError):
                return int(cast(str, values["max-file-size"]))
    return None


def _reason(error: Exception) -> str:
    """One line for an aiohttp error, without URLs (a link's path is private); a refused
    certificate in the words the XMPP stream uses (the host is named, not the path)."""
    if isinstance(error, aiohttp.ClientConnectorCertificateError):
        refused = error.certificate_error
        if isinstance(refused, ssl.SSLCertVerificationError):
            return refusal_problem(refused, None, error.host)
        return "the server's certificate is not valid"
    if isinstance(error, aiohttp.ClientConnectorError):
        return "cannot connect to the file server"
    return type(error).__name__
