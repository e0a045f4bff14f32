"""File transfers over HTTPS verify the file server's certificate.

Prosody serves its upload service over HTTPS on `https://localhost:PORT/` with a certificate
for `localhost` from the session's test CA (`ProsodyServer.start(https_certificate=…)`). The
CA is trusted the way the XMPP TLS tests trust it, through `SSL_CERT_FILE`, set in the test:
the transfer must read it when it starts, as slixmpp's stream does.

Pins: with the CA trusted a file goes up and comes down over HTTPS and decrypts; a certificate
from an unknown authority, a self-signed one, and one that does not name the link's host are
refused in one line, and nothing is saved (each Prosody here starts in about a second).
The account's certificate pin: the pinned self-signed certificate of the file server is
accepted both ways, also by `tui-omemo download`; a pin of another certificate changes
nothing (normal verification).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from tests.certs import CertificateAuthority, Pem, self_signed
from tests.cli.conftest import PASSPHRASE, Cli
from tests.prosody import ProsodyServer
from tui_omemo.model import TrustLevel
from tui_omemo.protocol.media_link import MediaKey, parse_link
from tui_omemo.service.files import download_file, upload_file
from tui_omemo.store import Direction, KeyringKeys, NewMessage, open_profile
from tui_omemo.xmpp.client import XmppClient
from tui_omemo.xmpp.http_files import FileTransferError, HttpFiles
from tui_omemo.xmpp.secure import StreamSecurity

pytestmark = pytest.mark.prosody
UNKNOWN_CA = "the certificate of localhost is not trusted: issued by an unknown authority"
SELF_SIGNED = "the certificate of localhost is not trusted: self-signed"
MISMATCH = "the certificate of 127.0.0.1 does not name 127.0.0.1"


class HttpsProsody:
    """A Prosody whose upload service is on HTTPS, the test CA and the HTTPS certificate."""

    def __init__(self, server: ProsodyServer, ca: Pem, https: Pem) -> None:
        self.server, self.ca, self.https = server, ca, https

    async def files(self, clients: list[XmppClient], pin: str | None = None) -> HttpFiles:
        """`HttpFiles` of a new account (plain HTTP to loopback NOT allowed) whose
        certificate pin is `pin`."""
        jid, password = self.server.create_account()
        client = XmppClient(
            jid, password, host=self.server.host, port=self.server.port,
            allow_plaintext_loopback=True, security=StreamSecurity(certificate_pin=pin),
        )  # fmt: skip
        clients.append(client)
        await client.connect(within=15, announce=False)
        return HttpFiles(client, allow_plaintext_loopback=False)


def _start(workdir: Path, certificate: Callable[[CertificateAuthority, Path], Pem]) -> HttpsProsody:
    ca = CertificateAuthority.create(workdir / "ca")
    pem = certificate(ca, workdir / "certs")
    return HttpsProsody(ProsodyServer.start(workdir, https_certificate=pem), ca.pem, pem)


@pytest.fixture(scope="module")
def https_prosody(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpsProsody]:
    """Upload service on HTTPS with a test-CA certificate for `localhost`."""
    running = _start(
        tmp_path_factory.mktemp("prosody-https"),
        lambda ca, where: ca.issue(where, "https", "localhost"),
    )
    yield running
    running.server.stop()


@pytest.fixture(scope="module")
def self_signed_prosody(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpsProsody]:
    """Upload service on HTTPS with a self-signed certificate for `localhost`."""
    running = _start(
        tmp_path_factory.mktemp("prosody-https-self-signed"),
        lambda _, where: self_signed(where, "https", "localhost"),
    )
    yield running
    running.server.stop()


@pytest.fixture
async def clients() -> AsyncIterator[list[XmppClient]]:
    made: list[XmppClient] = []
    yield made
    for client in made:
        await client.disconnect()


@pytest.fixture
def trust_test_ca(https_prosody: HttpsProsody, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(https_prosody.ca.certificate))


def _source(tmp_path: Path) -> tuple[Path, bytes]:
    source = tmp_path / "out" / "photo.jpg"
    source.parent.mkdir()
    content = os.urandom(70_000)
    source.write_bytes(content)
    return source, content


@pytest.mark.usefixtures("trust_test_ca")
async def test_a_file_round_trips_over_https_with_the_ca_trusted(
    https_prosody: HttpsProsody, clients: list[XmppClient], tmp_path: Path
) -> None:
    """The slot is https, the upload and the download go over TLS, the file decrypts."""
    alice = await https_prosody.files(clients)
    bob = await https_prosody.files(clients)
    source, content = _source(tmp_path)
    link = await upload_file(alice, source)
    assert link.http_url().startswith(f"https://localhost:{https_prosody.server.https_port}/")
    saved = await download_file(bob, link, tmp_path / "in")
    assert saved.path.read_bytes() == content


async def test_an_unknown_authority_is_refused_both_ways(
    https_prosody: HttpsProsody,
    clients: list[XmppClient],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without the test CA trusted neither the upload nor the download goes through, in one
    line, and no file is kept."""
    alice = await https_prosody.files(clients)
    source, _ = _source(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(https_prosody.ca.certificate))
    link = await upload_file(alice, source)
    monkeypatch.setenv("SSL_CERT_FILE", os.devnull)
    with pytest.raises(FileTransferError) as upload:
        await upload_file(alice, source)
    assert str(upload.value) == f"the upload failed: {UNKNOWN_CA}"
    inbox = tmp_path / "in"
    with pytest.raises(FileTransferError) as download:
        await download_file(HttpFiles(None), link, inbox)
    assert str(download.value) == f"the download failed: {UNKNOWN_CA}"
    assert not inbox.exists() or not any(inbox.iterdir())


@pytest.mark.usefixtures("trust_test_ca")
async def test_a_certificate_not_naming_the_host_is_refused(
    https_prosody: HttpsProsody, clients: list[XmppClient], tmp_path: Path
) -> None:
    """The same trusted certificate names `localhost`: a link to 127.0.0.1 is refused."""
    alice = await https_prosody.files(clients)
    source, _ = _source(tmp_path)
    link = await upload_file(alice, source)
    port = https_prosody.server.https_port
    by_address = parse_link(link.text().replace(f"//localhost:{port}/", f"//127.0.0.1:{port}/"))
    inbox = tmp_path / "in"
    with pytest.raises(FileTransferError) as raised:
        await download_file(HttpFiles(None), by_address, inbox)
    assert str(raised.value) == f"the download failed: {MISMATCH}"
    assert not inbox.exists() or not any(inbox.iterdir())


async def test_a_self_signed_certificate_is_refused_both_ways(
    self_signed_prosody: HttpsProsody,
    clients: list[XmppClient],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the test CA trusted, a server showing its own self-signed certificate gets
    neither the upload (the slot is granted, the PUT refused) nor the download."""
    monkeypatch.setenv("SSL_CERT_FILE", str(self_signed_prosody.ca.certificate))
    alice = await self_signed_prosody.files(clients)
    source, _ = _source(tmp_path)
    with pytest.raises(FileTransferError) as upload:
        await upload_file(alice, source)
    assert str(upload.value) == f"the upload failed: {SELF_SIGNED}"
    port = self_signed_prosody.server.https_port
    link = parse_link(
        f"aesgcm://localhost:{port}/upload/a/photo.jpg#{MediaKey.generate().fragment}"
    )
    inbox = tmp_path / "in"
    with pytest.raises(FileTransferError) as download:
        await download_file(HttpFiles(None), link, inbox)
    assert str(download.value) == f"the download failed: {SELF_SIGNED}"
    assert not inbox.exists() or not any(inbox.iterdir())


async def test_the_pinned_self_signed_certificate_is_accepted_both_ways(
    self_signed_prosody: HttpsProsody,
    clients: list[XmppClient],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The account pinned the server's self-signed certificate: the upload (the pin comes
    from the client's security) and the download (the pin given, no client) go through and
    the file decrypts; no CA is trusted for it."""
    monkeypatch.setenv("SSL_CERT_FILE", os.devnull)
    pin = self_signed_prosody.https.sha256
    alice = await self_signed_prosody.files(clients, pin=pin)
    source, content = _source(tmp_path)
    link = await upload_file(alice, source)
    saved = await download_file(HttpFiles(None, certificate_pin=pin), link, tmp_path / "in")
    assert saved.path.read_bytes() == content


async def test_a_pin_of_another_certificate_means_normal_verification(
    https_prosody: HttpsProsody,
    self_signed_prosody: HttpsProsody,
    clients: list[XmppClient],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A file server showing another certificate than the pinned one is verified as usual:
    a CA-issued one for its name is accepted (an upload service elsewhere keeps working), a
    self-signed one is refused as without a pin."""
    monkeypatch.setenv("SSL_CERT_FILE", str(https_prosody.ca.certificate))
    other_pin = self_signed_prosody.https.sha256
    alice = await https_prosody.files(clients, pin=other_pin)
    source, content = _source(tmp_path)
    link = await upload_file(alice, source)
    inbox = tmp_path / "in"
    saved = await download_file(HttpFiles(None, certificate_pin=other_pin), link, inbox)
    assert saved.path.read_bytes() == content
    mallory = await self_signed_prosody.files(clients, pin=https_prosody.https.sha256)
    with pytest.raises(FileTransferError) as upload:
        await upload_file(mallory, source)
    assert str(upload.value) == f"the upload failed: {SELF_SIGNED}"


def _seed_file_message(cli: Cli, body: str) -> int:
    """Archive a file message from bob in the profile; its id."""
    with open_profile(cli.profile, KeyringKeys(None), PASSPHRASE) as db, db.unit_of_work() as uow:
        return uow.archive.append(NewMessage(
            peer="bob@localhost", direction=Direction.IN, sender_bare_jid="bob@localhost",
            body=body, timestamp=1_764_000_000_000, received_at=1_764_000_000_000,
            dedupe_keys=("k",), sender_device=4242, trust=TrustLevel.BLINDLY_TRUSTED,
            omemo_version="2",
        ))  # fmt: skip


def test_the_download_command_uses_the_accounts_pin(
    self_signed_prosody: HttpsProsody, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`tui-omemo download` (no login) reads the profile's pin: without it the self-signed
    file server is refused; once that certificate is pinned the TLS handshake passes and the
    server's answer is what stops it (the blob does not exist: HTTP 404)."""
    monkeypatch.setenv("SSL_CERT_FILE", os.devnull)
    added = cli("account", "add", "alice@localhost", "--password-stdin", stdin="pw\n")
    assert added.code == 0, added.err
    port = self_signed_prosody.server.https_port
    fragment = MediaKey.generate().fragment
    message = _seed_file_message(cli, f"aesgcm://localhost:{port}/upload/a/photo.jpg#{fragment}")
    command = ("download", "bob@localhost", str(message), "--dir", str(tmp_path / "in"))
    refused = cli(*command)
    assert (refused.code, refused.err) == (1, f"tui-omemo: the download failed: {SELF_SIGNED}\n")
    pin = self_signed_prosody.https.sha256
    assert cli("account", "set", "--pin-certificate", pin).code == 0
    pinned = cli(*command)
    assert (pinned.code, pinned.err) == (1, "tui-omemo: the download failed: HTTP 404\n")
