"""No secret reaches a log record: SASL payloads (PLAIN and SCRAM over the real Prosody),
passwords and message text are redacted by the filter the CLI installs on its log handlers
(DESIGN.md §3.9, §3.13)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import logging
import re
import secrets
import sys
from collections.abc import Iterator
from urllib.parse import quote

import slixmpp

from tests.prosody import PLAIN_DOMAIN, ProsodyServer, register_in_band
from tests.xmpp.conftest import Online
from tui_omemo.xmpp import log_redaction

SASL_ELEMENTS = ("auth", "challenge", "response", "success")


@contextlib.contextmanager
def debug_log() -> Iterator[io.StringIO]:
    """Every record of the process at DEBUG, through a handler set up as the CLI does."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    log_redaction.install([handler])
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def encodings(*secrets_: str) -> set[str]:
    """Forms a secret could take in a log: as is, base64, hex, percent-encoded, XML-escaped."""
    found: set[str] = set()
    for secret in secrets_:
        raw = secret.encode()
        found |= {
            secret,
            base64.b64encode(raw).decode(),
            raw.hex(),
            quote(secret),
            secret.replace("&", "&amp;").replace("<", "&lt;"),
        }
    return found


def assert_sasl_redacted(log: str) -> None:
    """Every SASL element that was logged has no content but the redaction mark."""
    for name in SASL_ELEMENTS:
        for content in re.findall(rf"<{name}\b[^>]*?(?<!/)>(.*?)</{name}>", log, re.DOTALL):
            assert content == log_redaction.REDACTED, (name, content)


async def test_plain_exchange_and_message_text_never_reach_the_log(
    prosody: ProsodyServer,
) -> None:
    """A PLAIN login (password in base64 inside <auth>) and a message body, sent and received,
    are logged as slixmpp's SEND/RECV lines with their content redacted."""
    user, password = f"plain{secrets.token_hex(4)}", secrets.token_urlsafe(12)
    register_in_band(prosody.host, prosody.port, PLAIN_DOMAIN, user, password)
    jid, text = f"{user}@{PLAIN_DOMAIN}", f"private words {secrets.token_hex(6)}"
    client = slixmpp.ClientXMPP(jid, password, sasl_mech="PLAIN")
    client.enable_direct_tls = False
    client.enable_starttls = False
    client.enable_plaintext = True
    client.plugin["feature_mechanisms"].unencrypted_plain = True
    started = asyncio.get_running_loop().create_future()
    received = asyncio.get_running_loop().create_future()
    client.add_event_handler("session_start", lambda _: started.done() or started.set_result(1))
    client.add_event_handler(
        "message", lambda msg: received.done() or received.set_result(msg["body"])
    )
    with debug_log() as stream:
        client.connect(prosody.host, prosody.port)
        await asyncio.wait_for(started, 30)
        client.send_presence()
        client.send_message(mto=jid + "/" + client.boundjid.resource, mbody=text)
        assert await asyncio.wait_for(received, 30) == text
        client.disconnect()
        await client.disconnected
    log = stream.getvalue()
    assert 'mechanism="PLAIN"' in log  # the exchange was logged at all
    assert "<body>" in log
    for form in encodings(password, f"\x00{user}\x00{password}", text):
        assert form not in log
    assert_sasl_redacted(log)


async def test_scram_exchange_is_redacted(prosody: ProsodyServer, online: Online) -> None:
    """tui-omemo's own login (SCRAM on the loopback plaintext stream): nonce, salt, iteration
    count and proof stay out of the log, and so does the password."""
    jid, password = prosody.create_account()
    with debug_log() as stream:
        await online(jid=jid, password=password)
    log = stream.getvalue()
    assert "SCRAM-SHA-" in log
    assert "<challenge" in log
    for form in encodings(password):
        assert form not in log
    assert ",r=" not in log
    assert ",s=" not in log
    assert_sasl_redacted(log)


def test_redaction_covers_prefixes_unterminated_text_and_exceptions() -> None:
    """Namespaced prefixes, an element cut off at the end of the text, and the text of a logged
    exception are redacted; self-closing elements and other elements are kept."""
    cut = log_redaction.redact("<sasl:response xmlns:sasl='x'>c2VjcmV0</sasl:response>")
    assert cut == f"<sasl:response xmlns:sasl='x'>{log_redaction.REDACTED}</sasl:response>"
    assert log_redaction.redact("<message><body>hello there") == (
        f"<message><body>{log_redaction.REDACTED}"
    )
    kept = "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/><bodyguard>x</bodyguard>"
    assert log_redaction.redact(kept) == kept
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    log_redaction.install([handler])
    log_redaction.install([handler])
    assert len(handler.filters) == 1
    logger = logging.getLogger("tests.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        raise ValueError("<iq><password>hunter2</password></iq>")
    except ValueError:
        logger.error("RECV: %s", "<auth mechanism='PLAIN'>aHVudGVyMg==</auth>", exc_info=True)
        logger.error("failed", stack_info=True, exc_info=sys.exc_info())
    finally:
        logger.removeHandler(handler)
    log = stream.getvalue()
    assert "hunter2" not in log
    assert "aHVudGVyMg==" not in log
    assert "ValueError" in log
    assert "mechanism='PLAIN'" in log
