"""Fixtures shared by every test package.

`prosody`: a real Prosody on 127.0.0.1, one per test process (pytest-xdist worker), started on
first use and stopped at the end of the session. See tests/prosody.py for what it offers.
`prosody_tls`: another one with TLS (STARTTLS and direct TLS) and test certificates, started
only by the tests that use it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.prosody import ProsodyServer, TlsProsody


@pytest.fixture(scope="session")
def prosody(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProsodyServer]:
    """A running Prosody (`host`, `port`, `domain`, `muc_domain`, `create_account()`)."""
    server = ProsodyServer.start(tmp_path_factory.mktemp("prosody"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def prosody_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsProsody]:
    """A running Prosody with TLS: see `TlsProsody` (domains `TLS_GOOD`, `TLS_SELF_SIGNED`,
    `TLS_MISMATCH`)."""
    tls = TlsProsody.start(tmp_path_factory.mktemp("prosody-tls"))
    try:
        yield tls
    finally:
        tls.server.stop()
