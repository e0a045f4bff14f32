"""JSON schema 1, pinned: one golden object per kind of `--json` output (the README documents
the same), and the rules every object follows (`schema`, `type`, `omemo` a version or null,
`encrypted` a boolean, `device` for device ids, ISO 8601 UTC times with milliseconds)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.cli.conftest import Cli
from tui_omemo.commands.account_edit import account_object
from tui_omemo.commands.chat import sent_json
from tui_omemo.commands.muc import readiness_json, room_json
from tui_omemo.commands.output import MessageView, failure_json
from tui_omemo.commands.schema import dump
from tui_omemo.commands.settings import setting_json
from tui_omemo.commands.trust import device_json, trust_json
from tui_omemo.config import SETTINGS_HELP
from tui_omemo.model import Namespace, TrustLevel
from tui_omemo.service.api import (
    AccountInfo,
    DeviceInfo,
    MemberReadiness,
    RoomInfo,
    SendReport,
    SkippedDevice,
)
from tui_omemo.store import ArchivedMessage, Direction

TIME = "2025-11-24T16:00:00.123+00:00"
MS = 1_764_000_000_123
ISO_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00")
MEMBER = MemberReadiness("carol@x", "carol", True, 1, 0, 0, None)
DEVICE = DeviceInfo("alice@x", 6, "", TrustLevel.UNDECIDED, False, (Namespace.V2,), own=True)


def _row(**changes: Any) -> ArchivedMessage:
    fields: dict[str, Any] = {
        "id": 41, "peer": "room@muc.x", "direction": Direction.IN, "sender_bare_jid": "bob@x",
        "body": "hi", "timestamp": MS, "received_at": MS, "room": "room@muc.x", "nick": "bob",
        "sender_device": 7, "trust": TrustLevel.BLINDLY_TRUSTED, "omemo_version": "2",
        "stanza_id": "s1", "origin_id": None, "message_id": None, "flags": {},
    }  # fmt: skip
    return ArchivedMessage(**{**fields, **changes})


FILE_LINK = "aesgcm://up.x/s/a%20b.pdf#" + "ab" * 44
"""A file message's body: the JSON never shows it (its fragment is the file's key)."""

GOLDEN: dict[str, tuple[str, dict[str, Any]]] = {
    "history/listen": (MessageView.from_archive(_row()).to_json(), {
        "schema": 1, "type": "message", "id": 41, "peer": "room@muc.x", "room": "room@muc.x",
        "nick": "bob", "direction": "in", "from": "bob@x", "device": 7, "text": "hi",
        "file": None,
        "encrypted": True, "omemo": "2", "trust": "blind", "stanza_id": "s1", "time": TIME,
        "replaces": None, "edited": False,  # issue 17: keys added within schema 1
        "delivery": None,  # issue 17: a key added within schema 1 (null for incoming)
        "reply_to": None,  # issue 17: a key added within schema 1 (null but for a reply)
        "message_id": None,  # issue 17: the XMPP id it came with (what a reply_to names)
    }),
    "history/listen (ours, read)": (MessageView.from_archive(_row(
        direction=Direction.OUT, sender_bare_jid="alice@x", room=None, nick=None, peer="bob@x",
        flags={"delivery": "read"})).to_json(), {
        "schema": 1, "type": "message", "id": 41, "peer": "bob@x", "room": None,
        "nick": None, "direction": "out", "from": "alice@x", "device": 7, "text": "hi",
        "file": None,
        "encrypted": True, "omemo": "2", "trust": "blind", "stanza_id": "s1", "time": TIME,
        "delivery": "read",  # issue 17: pending, sent, received or read for ours
        "replaces": None, "edited": False, "reply_to": None, "message_id": None,
    }),
    "history/listen (file)": (MessageView.from_archive(_row(body=FILE_LINK)).to_json(), {
        "schema": 1, "type": "message", "id": 41, "peer": "room@muc.x", "room": "room@muc.x",
        "nick": "bob", "direction": "in", "from": "bob@x", "device": 7,
        "text": "[file] a b.pdf",
        "file": {"name": "a b.pdf", "size": None, "type": "application/pdf"},
        "encrypted": True, "omemo": "2", "trust": "blind", "stanza_id": "s1", "time": TIME,
        "replaces": None, "edited": False,  # issue 17: keys added within schema 1
        "delivery": None, "reply_to": None, "message_id": None,
    }),
    "listen (correction)": (MessageView.from_archive(_row(
        flags={"replaces": "m-1", "corrects": 40})).to_json(), {
        "schema": 1, "type": "message", "id": 41, "peer": "room@muc.x", "room": "room@muc.x",
        "nick": "bob", "direction": "in", "from": "bob@x", "device": 7, "text": "hi",
        "file": None,
        "encrypted": True, "omemo": "2", "trust": "blind", "stanza_id": "s1", "time": TIME,
        "replaces": "m-1", "edited": False,
        "delivery": None, "reply_to": None, "message_id": None,
    }),
    "history/listen (reply)": (MessageView.from_archive(_row(
        body="yes, noon", message_id="m-2", flags={"reply_to": "m-1"})).to_json(), {
        "schema": 1, "type": "message", "id": 41, "peer": "room@muc.x", "room": "room@muc.x",
        "nick": "bob", "direction": "in", "from": "bob@x", "device": 7, "text": "yes, noon",
        "file": None,
        "encrypted": True, "omemo": "2", "trust": "blind", "stanza_id": "s1", "time": TIME,
        "replaces": None, "edited": False, "delivery": None,
        "reply_to": "m-1",  # issue 17: the message id of the message it answers
        "message_id": "m-2",  # issue 17: its own message id (what a reply_to names)
    }),
    "listen (decryption failure)": (
        failure_json(_row(peer="bob@x", room=None, nick=None, body="", trust=None,
                          omemo_version="0.3"), "ratchet MAC mismatch"), {
        "schema": 1, "type": "error", "id": 41, "peer": "bob@x", "room": None, "nick": None,
        "direction": "in", "from": "bob@x", "device": 7, "reason": "ratchet MAC mismatch",
        "encrypted": True, "omemo": "0.3", "stanza_id": "s1", "time": TIME,
    }),
    "send": (sent_json("bob@x", SendReport(
        12, Namespace.V2, (SkippedDevice("bob@x", 9, "distrusted device", "distrusted"),),
        (Namespace.V2, Namespace.LEGACY)), room=False), {
        "schema": 1, "type": "sent", "id": 12, "peer": "bob@x", "room": None,
        "encrypted": True, "omemo": "2", "versions": ["2", "0.3"],
        "skipped": [{"jid": "bob@x", "device": 9, "reason": "distrusted device",
                     "code": "distrusted"}],
    }),
    "devices": (device_json(DeviceInfo(
        "bob@x", 7, "05ab cdef", TrustLevel.VERIFIED, True, (Namespace.LEGACY, Namespace.V2),
        last_seen=datetime(2025, 11, 24, 16, 0, 0, 123000, UTC))), {
        "schema": 1, "type": "device", "jid": "bob@x", "device": 7, "fingerprint": "05ab cdef",
        "trust": "verified", "active": True, "versions": ["0.3", "2"], "own": False,
        "this_device": False, "label": None, "last_seen": TIME,
    }),
    "trust": (trust_json("bob@x", 7, TrustLevel.DISTRUSTED), {
        "schema": 1, "type": "trust", "jid": "bob@x", "device": 7, "trust": "distrusted",
    }),
    "settings": (setting_json("add_body_hint", True), {
        "schema": 1, "type": "setting", "key": "add_body_hint", "value": True,
        "help": SETTINGS_HELP["add_body_hint"],
    }),
    "muc join": (room_json(RoomInfo("room@muc.x", "alice", "plans", True, None, (MEMBER,)),
                           {"carol@x": "member"}), {
        "schema": 1, "type": "room", "room": "room@muc.x", "nick": "alice", "subject": "plans",
        "encrypted": True, "refusal": None, "members": [{
            "schema": 1, "type": "member", "jid": "carol@x", "nick": "carol",
            "affiliation": "member", "has_keys": True, "trusted": 1, "undecided": 0,
            "distrusted": 0, "last_error": None}],
    }),
    "account show": (dump("account", account_object(AccountInfo(
        "alice@x", 5, "05aa bbcc", "laptop", "127.0.0.1", 5333, False, True, (DEVICE,),
        ":".join(["AB"] * 32)))), {
        "schema": 1, "type": "account", "jid": "alice@x", "device": 5, "fingerprint": "05aa bbcc",
        "label": "laptop", "server": "127.0.0.1:5333", "allow_plaintext_loopback": False,
        "password_stored": True, "certificate_pin": ":".join(["AB"] * 32), "other_devices": [{
            "schema": 1, "type": "device", "jid": "alice@x", "device": 6, "fingerprint": None,
            "trust": "undecided", "active": False, "versions": ["2"], "own": True,
            "this_device": False, "label": None, "last_seen": None}],
    }),
    "muc members": (dump("member", readiness_json(MEMBER, "owner")), {
        "schema": 1, "type": "member", "jid": "carol@x", "nick": "carol", "affiliation": "owner",
        "has_keys": True, "trusted": 1, "undecided": 0, "distrusted": 0, "last_error": None,
    }),
}  # fmt: skip


@pytest.mark.parametrize("command", list(GOLDEN))
def test_golden_object(command: str) -> None:
    line, expected = GOLDEN[command]
    assert "\n" not in line
    shown = json.loads(line)
    assert shown == expected
    assert list(shown)[:2] == ["schema", "type"]


@pytest.mark.parametrize("command", list(GOLDEN))
def test_the_rules_every_object_follows(command: str) -> None:
    shown = json.loads(GOLDEN[command][0])
    for value in _objects(shown):
        assert "device_id" not in value
        assert value.get("omemo") in (None, "0.3", "2")
        if "encrypted" in value:
            assert isinstance(value["encrypted"], bool)
        if value.get("trust") is not None:
            assert value["trust"] in ("verified", "blind", "distrusted", "undecided")
        for key in ("time", "last_seen"):
            if value.get(key) is not None:
                assert ISO_MS.fullmatch(value[key])


def _objects(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        return [value, *[o for item in value.values() for o in _objects(item)]]
    if isinstance(value, list):
        return [o for item in value for o in _objects(item)]
    return []


def test_settings_json_from_the_command_line(cli: Cli) -> None:
    assert cli("account", "add", "alice@localhost", "--password-stdin", stdin="pw\n").code == 0
    changed = cli("settings", "add_body_hint", "off", "--json")
    assert changed.code == 0, changed.err
    assert json.loads(changed.out)["value"] is False
    listed = cli("settings", "--json")
    rows = [json.loads(line) for line in listed.out.splitlines()]
    assert {row["type"] for row in rows} == {"setting"}
    assert ("add_body_hint", False) in [(row["key"], row["value"]) for row in rows]
