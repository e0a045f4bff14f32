"""Nothing before TLS (DESIGN.md §3.13), login methods and certificates, against the hostile
`FakeServer`: it strips STARTTLS or offers weak SASL mechanisms, and records every byte."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import slixmpp

from tests.certs import Pem, self_signed
from tests.xmpp.fake_server import FakeServer, fake_server
from tui_omemo.xmpp.client import XmppClient
from tui_omemo.xmpp.errors import (
    AuthenticationFailed,
    CertificateNotTrusted,
    InsecureConnectionRefused,
)
from tui_omemo.xmpp.secure import SecureStream, StreamSecurity, accepted_mechanisms

MECHANISM_SETS = [
    ["LOGIN"],
    ["ANONYMOUS"],
    ["EXTERNAL"],
    ["PLAIN"],
    ["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN", "LOGIN"],
]
WITHIN = 10


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Pem:
    """A self-signed certificate for `localhost` (the fake server's domain)."""
    return self_signed(tmp_path_factory.mktemp("certs"), "fake", "localhost")


@pytest.fixture(scope="module")
def stripped() -> Iterator[FakeServer]:
    """A server that offers no STARTTLS (its mechanisms are set per test)."""
    with fake_server([]) as server:
        yield server


@pytest.fixture(scope="module")
def with_tls(certificate: Pem) -> Iterator[FakeServer]:
    """A server that offers STARTTLS with a self-signed certificate."""
    with fake_server([], starttls=True, certificate=certificate) as server:
        yield server


def client_for(server: FakeServer, **options: Any) -> XmppClient:
    return XmppClient("alice@localhost", "secret", host="127.0.0.1", port=server.port, **options)


async def connect_refused(client: XmppClient, error: type[Exception]) -> str:
    """Connect, expect `error`, return its message."""
    with pytest.raises(error) as raised:
        await client.connect(within=WITHIN)
    assert not client.connected
    return str(raised.value)


async def test_fake_server_gets_auth_from_stock_slixmpp(stripped: FakeServer) -> None:
    """The fake is real enough to show the hole: slixmpp as it comes sends `<auth>` (LOGIN:
    the password in base64) to a server that stripped STARTTLS."""
    stripped.mechanisms = ["LOGIN"]
    stripped.received.clear()
    stock = slixmpp.ClientXMPP("alice@localhost", "secret")
    stock.enable_direct_tls = False
    stock.connect("127.0.0.1", stripped.port)
    try:
        for _ in range(WITHIN * 50):
            if "<auth" in stripped.text:
                break
            await asyncio.sleep(0.02)
    finally:
        stock.abort()
    assert 'mechanism="LOGIN"' in stripped.text or "mechanism='LOGIN'" in stripped.text


@pytest.mark.parametrize("mechanisms", MECHANISM_SETS, ids="+".join)
async def test_no_auth_without_tls(stripped: FakeServer, mechanisms: list[str]) -> None:
    """Whatever the server offers, without STARTTLS nothing but the stream header leaves
    (no `<auth>`, no stanza) and the error names the missing TLS."""
    stripped.mechanisms = mechanisms
    stripped.received.clear()
    message = await connect_refused(client_for(stripped), InsecureConnectionRefused)
    assert message == (
        "the server offered no TLS; refusing to log in or send anything over plaintext"
    )
    sent = stripped.text
    assert "<stream:stream" in sent
    for element in ("<auth", "<iq", "<presence", "<message", "<response"):
        assert element not in sent


@pytest.mark.parametrize("mechanisms", [["LOGIN"], ["ANONYMOUS"], ["EXTERNAL"]], ids="+".join)
async def test_weak_mechanisms_refused_over_tls(
    with_tls: FakeServer, certificate: Pem, mechanisms: list[str]
) -> None:
    """Over TLS (the fake's certificate pinned), LOGIN, ANONYMOUS and EXTERNAL are never
    used for an account with a password: no `<auth>`, and the offer is named."""
    with_tls.mechanisms = mechanisms
    with_tls.received.clear()
    client = client_for(with_tls, security=StreamSecurity(certificate_pin=certificate.sha256))
    message = await connect_refused(client, InsecureConnectionRefused)
    assert message == (
        f"the server offered no login method tui-omemo accepts (offered: {mechanisms[0]})"
    )
    assert "<starttls" in with_tls.text
    assert "<auth" not in with_tls.text


async def test_scram_pin_refuses_a_downgrade(with_tls: FakeServer, certificate: Pem) -> None:
    """After a SCRAM-SHA-256 login, an offer of SCRAM-SHA-1 and PLAIN is a downgrade."""
    with_tls.mechanisms = ["SCRAM-SHA-1", "PLAIN"]
    with_tls.received.clear()
    security = StreamSecurity(certificate_pin=certificate.sha256, pinned_mechanism="SCRAM-SHA-256")
    message = await connect_refused(
        client_for(with_tls, security=security), InsecureConnectionRefused
    )
    assert message.startswith(
        "the server offered only PLAIN, SCRAM-SHA-1, weaker than SCRAM-SHA-256 this account "
        "logged in with before; refusing"
    )
    assert "<auth" not in with_tls.text


async def test_refused_password_over_tls_says_so(with_tls: FakeServer, certificate: Pem) -> None:
    """Over TLS the strongest offered SCRAM is used, once: the server's `<failure>` is the
    password's fault (not a missing TLS), and no weaker mechanism is tried after it."""
    with_tls.mechanisms = ["PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-256", "LOGIN"]
    with_tls.received.clear()
    client = client_for(with_tls, security=StreamSecurity(certificate_pin=certificate.sha256))
    message = await connect_refused(client, AuthenticationFailed)
    assert message == ("the server refused the login for alice@localhost: it refused the password")
    sent = with_tls.text  # decrypted by the fake
    assert sent.count("<auth") == 1  # no other mechanism after the refusal (PLAIN!)
    assert "SCRAM-SHA-256" in sent


@pytest.mark.parametrize(
    ("tls12", "expected"),
    [(True, "SCRAM-SHA-256-PLUS"), (False, "SCRAM-SHA-256")],
    ids=["tls1.2", "tls1.3"],
)
async def test_channel_binding_preferred_when_possible(
    with_tls: FakeServer, certificate: Pem, tls12: bool, expected: str
) -> None:
    """SCRAM-SHA-*-PLUS is chosen when offered and Python can bind the channel (TLS 1.2,
    tls-unique); on TLS 1.3 (no tls-exporter in Python's ssl) the same hash without it."""
    with_tls.mechanisms = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"]
    with_tls.tls12 = tls12
    with_tls.received.clear()
    client = client_for(with_tls, security=StreamSecurity(certificate_pin=certificate.sha256))
    try:
        await connect_refused(client, AuthenticationFailed)
    finally:
        with_tls.tls12 = False
    sent = with_tls.text
    assert f"mechanism='{expected}'" in sent or f'mechanism="{expected}"' in sent


async def test_self_signed_certificate_named_with_its_fingerprint(
    with_tls: FakeServer, certificate: Pem
) -> None:
    """Without a pin, a self-signed certificate ends the attempt with its SHA-256."""
    with_tls.mechanisms = ["SCRAM-SHA-1"]
    with_tls.received.clear()
    message = await connect_refused(client_for(with_tls), CertificateNotTrusted)
    assert message.startswith(
        f"the certificate of localhost is not trusted: self-signed, SHA-256 {certificate.sha256}"
    )
    assert "<auth" not in with_tls.text


async def test_another_certificate_than_the_pinned_one(
    with_tls: FakeServer, certificate: Pem, tmp_path: Path
) -> None:
    """A pin accepts exactly its certificate: another one is refused before the stream
    goes on."""
    other = self_signed(tmp_path, "other", "localhost")
    with_tls.mechanisms = ["SCRAM-SHA-1"]
    with_tls.received.clear()
    client = client_for(with_tls, security=StreamSecurity(certificate_pin=other.sha256))
    with pytest.raises(CertificateNotTrusted) as raised:
        await client.connect(within=WITHIN)
    assert not client.connected
    assert str(raised.value) == (
        f"the certificate of localhost is not the pinned one: SHA-256 {certificate.sha256}, "
        f"pinned {other.sha256}"
    )
    assert raised.value.fingerprint == certificate.sha256  # offered for pinning instead
    assert raised.value.problem == "the certificate of localhost is not the pinned one"
    assert "<auth" not in with_tls.text


async def test_loopback_switch_still_refuses_login_and_anonymous(stripped: FakeServer) -> None:
    """The loopback-plaintext switch allows a plaintext stream, not a weaker login method."""
    stripped.mechanisms = ["LOGIN", "ANONYMOUS"]
    stripped.received.clear()
    client = client_for(stripped, allow_plaintext_loopback=True)
    message = await connect_refused(client, InsecureConnectionRefused)
    assert "no login method" in message
    assert "<auth" not in stripped.text


def test_accepted_mechanisms() -> None:
    """Only PLAIN and SCRAM; a pin keeps the pinned hash and stronger ones, -PLUS included."""
    assert "LOGIN" not in accepted_mechanisms(None)
    assert "ANONYMOUS" not in accepted_mechanisms(None)
    assert "EXTERNAL" not in accepted_mechanisms(None)
    assert {"PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-256-PLUS"} <= accepted_mechanisms(None)
    pinned = accepted_mechanisms("SCRAM-SHA-256")
    assert "PLAIN" not in pinned
    assert "SCRAM-SHA-1" not in pinned
    assert "SCRAM-SHA-1-PLUS" not in pinned
    assert {"SCRAM-SHA-256", "SCRAM-SHA-256-PLUS", "SCRAM-SHA-512"} <= pinned


# --- SRV ---------------------------------------------------------------------------------


class StubResolver:
    """aiodns 4's `query_dns`/`getaddrinfo` over fixed tables."""

    def __init__(
        self, srv: dict[str, list[tuple[int, int, str, int]]], addresses: dict[str, str]
    ) -> None:
        self.srv = srv
        self.addresses = addresses
        self.queries: list[str] = []

    async def query_dns(self, name: str, qtype: str) -> Any:
        self.queries.append(name)
        records = self.srv.get(name)
        if records is None:
            raise OSError(f"NXDOMAIN {name}")
        return SimpleNamespace(
            answer=[
                SimpleNamespace(data=SimpleNamespace(priority=p, weight=w, target=t, port=port))
                for p, w, t, port in records
            ]
        )

    async def getaddrinfo(self, host: str, family: int) -> Any:
        import socket

        address = self.addresses.get(host)
        if address is None or family != socket.AF_INET:
            raise OSError(f"no address for {host}")
        return SimpleNamespace(nodes=[SimpleNamespace(addr=(address.encode(), 0))])


async def test_srv_records_in_priority_order() -> None:
    """Both XEP-0368 (direct TLS) and RFC 6120 records are looked up and tried by priority;
    each target keeps its kind (direct TLS or STARTTLS)."""
    resolver = StubResolver(
        {
            "_xmpps-client._tcp.example.org": [(10, 0, "tls.example.net.", 5223)],
            "_xmpp-client._tcp.example.org": [
                (5, 0, "first.example.net.", 5222), (20, 0, "last.example.net.", 5222),
            ],
        },
        {"tls.example.net": "192.0.2.2", "first.example.net": "192.0.2.1",
         "last.example.net": "192.0.2.3"},
    )  # fmt: skip
    stream = SecureStream(
        "a@example.org", "pw", plaintext_loopback=False, security=StreamSecurity(resolver=resolver)
    )
    records = await stream.get_dns_records("example.org")
    assert records == [
        ("xmpp-client", "first.example.net", "192.0.2.1", 5222),
        ("xmpps-client", "tls.example.net", "192.0.2.2", 5223),
        ("xmpp-client", "last.example.net", "192.0.2.3", 5222),
    ]
    assert sorted(resolver.queries) == [
        "_xmpp-client._tcp.example.org",
        "_xmpps-client._tcp.example.org",
    ]


async def test_without_srv_records_the_domain_itself() -> None:
    resolver = StubResolver({}, {"example.org": "192.0.2.9"})
    stream = SecureStream(
        "a@example.org", "pw", plaintext_loopback=False, security=StreamSecurity(resolver=resolver)
    )
    assert await stream.get_dns_records("example.org") == [("", "example.org", "192.0.2.9", 5222)]


def test_a_login_raises_the_pin_for_reconnects() -> None:
    """After a SCRAM-SHA-256(-PLUS) login the same stream's next attempts (reconnects)
    accept nothing weaker, before the profile has even stored it."""
    stream = SecureStream(
        "a@example.org", "pw", plaintext_loopback=False, security=StreamSecurity()
    )
    plugins: Any = stream.plugin
    mechanisms = plugins["feature_mechanisms"]
    assert "PLAIN" in mechanisms.use_mechs
    mechanisms.mech = SimpleNamespace(name="SCRAM-SHA-256-PLUS")
    stream.event("auth_success", {})
    assert stream.mechanism_used == "SCRAM-SHA-256-PLUS"
    stream.reset_refusal()  # what every connection attempt starts with
    assert mechanisms.use_mechs == set(accepted_mechanisms("SCRAM-SHA-256"))
    assert "PLAIN" not in mechanisms.use_mechs
