"""The shape of `tui_omemo.xmpp` after issue 14: split by concern behind an unchanged face.

`XmppClient` keeps the public surface the service, `RoomClient` and the tests use; the queue of
incoming messages is test code (`devtools.queue_client`), not production; no module of `xmpp/`
grows past 600 lines.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import tui_omemo.xmpp
from devtools.queue_client import QueueClient
from tui_omemo.xmpp.client import XmppClient

MAX_LINES = 600
PUBLIC = {
    "bare_jid", "full_jid", "connected", "login_mechanism", "stream", "connect", "disconnect",
    "add_connection_listener", "send_presence", "ping", "request",
    "fetch_device_list", "publish_device_list", "publish_exact_device_list", "publish_bundle",
    "fetch_bundle", "add_device_list_listener",
    "send_encrypted", "send_plaintext", "send_invitation", "send_stanza",
    "query_archive", "archive_page", "archive_query_open", "last_archive_id",
    "rejected_archive_results",
    "roster", "add_contact", "remove_contact", "rename_contact", "deny_contact", "presence_shows",
    "add_roster_listener", "add_subscription_request_listener", "add_status_listener",
    "add_presence_listener", "approve_contact", "presence_status",  # issue 17
    "set_acknowledgement_sink", "send_acknowledgement",  # issue 17: receipts, markers
    "set_stanza_sink", "add_message_listener", "rejected_carbons", "malformed_stanzas",
    "add_chat_state_listener", "send_chat_state",  # issue 17: XEP-0085
    "certificate_pin",  # issue 18: the account pin, for the HTTPS file transfers too
}  # fmt: skip


def test_no_xmpp_module_is_over_600_lines() -> None:
    """Before, `client.py` alone had 1,331 lines and 64 methods."""
    root = Path(tui_omemo.xmpp.__file__).parent
    sizes = {
        path.relative_to(root): len(path.read_text().splitlines()) for path in root.rglob("*.py")
    }
    assert {path: lines for path, lines in sizes.items() if lines > MAX_LINES} == {}


def test_the_client_keeps_its_public_surface() -> None:
    public = {name for name, _ in inspect.getmembers(XmppClient) if not name.startswith("_")}
    assert public == PUBLIC


def test_the_message_queue_is_test_code_not_production() -> None:
    """Production hands incoming messages to a sink only; awaiting them is `QueueClient`'s."""
    for name in ("messages", "next_message"):
        assert not hasattr(XmppClient, name)
        assert hasattr(QueueClient, name)
