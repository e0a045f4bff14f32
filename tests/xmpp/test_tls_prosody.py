"""TLS against the real Prosody (`prosody_tls`): STARTTLS and direct TLS logins with a trusted
certificate, certificate errors in words (self-signed, another host's certificate), a pinned
self-signed certificate, a refused password over direct TLS, and SRV records leading there.

The test CA is trusted through `SSL_CERT_FILE`, which OpenSSL reads when slixmpp makes its TLS
context (when the `XmppClient` connects the first time)."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.prosody import TLS_GOOD, TLS_MISMATCH, TLS_SELF_SIGNED, TlsProsody
from tests.xmpp.test_transport_security import StubResolver
from tui_omemo.xmpp.client import XmppClient
from tui_omemo.xmpp.errors import AuthenticationFailed, CertificateNotTrusted
from tui_omemo.xmpp.secure import StreamSecurity

pytestmark = pytest.mark.prosody
WITHIN = 15


@pytest.fixture
def trust_test_ca(prosody_tls: TlsProsody, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(prosody_tls.ca.certificate))


@pytest.fixture
async def clients() -> AsyncIterator[list[XmppClient]]:
    made: list[XmppClient] = []
    yield made
    for client in made:
        await client.disconnect()


def make(
    prosody_tls: TlsProsody, clients: list[XmppClient], jid: str, password: str, *,
    direct: bool = False, **options: Any,
) -> XmppClient:  # fmt: skip
    server = prosody_tls.server
    port = server.direct_tls_port if direct else server.port
    options.setdefault("host", server.host)
    client = XmppClient(jid, password, port=port or 0, **options)
    clients.append(client)
    return client


@pytest.mark.usefixtures("trust_test_ca")
@pytest.mark.parametrize("direct", [False, True], ids=["starttls", "direct-tls"])
async def test_login_over_tls(
    prosody_tls: TlsProsody, clients: list[XmppClient], direct: bool
) -> None:
    """A CA-trusted certificate for the JID's domain: logged in, on TLS, with SCRAM."""
    jid, password = prosody_tls.create_account(TLS_GOOD)
    client = make(prosody_tls, clients, jid, password, direct=direct)
    await client.connect(within=WITHIN)
    assert client.connected
    assert isinstance(client.stream.socket, ssl.SSLObject)
    assert (client.login_mechanism or "").startswith("SCRAM-")


@pytest.mark.usefixtures("trust_test_ca")
async def test_wrong_password_over_direct_tls(
    prosody_tls: TlsProsody, clients: list[XmppClient]
) -> None:
    """Over direct TLS a refused password says so (there is no `<starttls/>` to miss)."""
    jid, _ = prosody_tls.create_account(TLS_GOOD)
    client = make(prosody_tls, clients, jid, "not-the-password", direct=True)
    with pytest.raises(AuthenticationFailed) as raised:
        await client.connect(within=WITHIN)
    assert str(raised.value) == (f"the server refused the login for {jid}: it refused the password")


@pytest.mark.usefixtures("trust_test_ca")
@pytest.mark.parametrize("direct", [False, True], ids=["starttls", "direct-tls"])
async def test_self_signed_certificate_is_named(
    prosody_tls: TlsProsody, clients: list[XmppClient], direct: bool
) -> None:
    pem = prosody_tls.certificates[TLS_SELF_SIGNED]
    client = make(prosody_tls, clients, f"a@{TLS_SELF_SIGNED}", "pw", direct=direct)
    with pytest.raises(CertificateNotTrusted) as raised:
        await client.connect(within=WITHIN)
    assert str(raised.value).startswith(
        f"the certificate of {TLS_SELF_SIGNED} is not trusted: self-signed, SHA-256 {pem.sha256}"
    )
    assert "--pin-certificate" in str(raised.value)
    assert (raised.value.domain, raised.value.fingerprint, raised.value.problem) == (
        TLS_SELF_SIGNED,
        pem.sha256,
        f"the certificate of {TLS_SELF_SIGNED} is not trusted: self-signed",
    )  # what the account screen shows and offers to pin


@pytest.mark.usefixtures("trust_test_ca")
@pytest.mark.parametrize("direct", [False, True], ids=["starttls", "direct-tls"])
async def test_certificate_for_another_host_is_named(
    prosody_tls: TlsProsody, clients: list[XmppClient], direct: bool
) -> None:
    """A trusted CA's certificate for another name: the mismatch is named."""
    pem = prosody_tls.certificates[TLS_MISMATCH]
    client = make(prosody_tls, clients, f"a@{TLS_MISMATCH}", "pw", direct=direct)
    with pytest.raises(CertificateNotTrusted) as raised:
        await client.connect(within=WITHIN)
    assert str(raised.value).startswith(
        f"the certificate of {TLS_MISMATCH} does not name {TLS_MISMATCH} (it is for "
        f"elsewhere.test), SHA-256 {pem.sha256}"
    )
    assert raised.value.fingerprint == pem.sha256
    assert raised.value.problem == (
        f"the certificate of {TLS_MISMATCH} does not name {TLS_MISMATCH} (it is for elsewhere.test)"
    )


@pytest.mark.parametrize("direct", [False, True], ids=["starttls", "direct-tls"])
async def test_pinned_self_signed_certificate_logs_in(
    prosody_tls: TlsProsody, clients: list[XmppClient], direct: bool
) -> None:
    """The pin is the explicit way to trust a self-hosted server's own certificate."""
    jid, password = prosody_tls.create_account(TLS_SELF_SIGNED)
    pin = prosody_tls.certificates[TLS_SELF_SIGNED].sha256
    client = make(
        prosody_tls,
        clients,
        jid,
        password,
        direct=direct,
        security=StreamSecurity(certificate_pin=pin),
    )
    await client.connect(within=WITHIN)
    assert client.connected


@pytest.mark.usefixtures("trust_test_ca")
async def test_srv_record_leads_to_the_server(
    prosody_tls: TlsProsody, clients: list[XmppClient]
) -> None:
    """Without a host the JID's domain is resolved: its XEP-0368 record names another host
    and port (direct TLS), and the certificate is still checked against the JID's domain."""
    jid, password = prosody_tls.create_account(TLS_GOOD)
    port = prosody_tls.server.direct_tls_port
    assert port is not None
    resolver = StubResolver(
        {f"_xmpps-client._tcp.{TLS_GOOD}": [(0, 0, "xmpp.elsewhere.test.", port)],
         f"_xmpp-client._tcp.{TLS_GOOD}": [(5, 0, "dead.elsewhere.test.", 1)]},
        {"xmpp.elsewhere.test": "127.0.0.1", "dead.elsewhere.test": "127.0.0.1"},
    )  # fmt: skip
    client = make(
        prosody_tls, clients, jid, password, host=None, security=StreamSecurity(resolver=resolver)
    )
    await client.connect(within=WITHIN)
    assert client.connected
    peer = client.stream.transport.get_extra_info("peername") if client.stream.transport else None
    assert peer is not None
    assert peer[1] == port


async def test_unknown_authority_is_named(
    prosody_tls: TlsProsody, clients: list[XmppClient]
) -> None:
    """A certificate from a CA the system does not trust (the test CA, not in SSL_CERT_FILE)."""
    pem = prosody_tls.certificates[TLS_GOOD]
    client = make(prosody_tls, clients, f"a@{TLS_GOOD}", "pw")
    with pytest.raises(CertificateNotTrusted) as raised:
        await client.connect(within=WITHIN)
    assert str(raised.value).startswith(
        f"the certificate of {TLS_GOOD} is not trusted: issued by an unknown authority "
        f"(CN=tui-omemo test CA), SHA-256 {pem.sha256}"
    )
