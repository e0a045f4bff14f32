"""A test-only XMPP peer speaking OMEMO through slixmpp-omemo 2.2 (python-omemo): an independent
implementation to check ours against through a real Prosody.

`OmemoPeer.start(server, jid, password)` logs in over plaintext loopback, loads the
slixmpp_omemo plugin with in-memory storage and Blind Trust Before Verification, and waits
until its device list and bundles are published. With `legacy_only=True` it is a device that
speaks only OMEMO 0.3, like Conversations or Gajim: python-omemo runs with the `oldmemo`
backend alone (so only the 0.3 device list and bundle are published), and its reader looks
only at the 0.3 `<encrypted>` element (slixmpp-omemo itself would pick an OMEMO 2 element
first, whether or not it loaded that backend). `send(to, text)` encrypts with whatever
slixmpp-omemo picks (its `encrypt_message` can only produce OMEMO 0.3: it has no SCE);
`send_v2(to, text)` encrypts an SCE envelope written here with python-omemo's session manager
and sends it in the stanza shape slixmpp-omemo builds (fallback body, store hint).
Replies (XEP-0461) are shaped by slixmpp's `xep_0461` plugin (`<reply>`, and the quoted
fallback with its `<fallback>` range); `encrypt_message` keeps only the body (it clears every
other child), so `send(..., reply=...)` puts `<reply>`/`<fallback>` back on the encrypted
stanza, outside, where Conversations has them; slixmpp-omemo 2.2 has no SCE, so it cannot put
them inside an OMEMO 2 envelope: `send_v2(..., reply=...)` writes them into its own envelope.
`received` is a queue of decrypted messages, filled by a handler on slixmpp's `message` event
(which slixmpp raises only for a stanza with a `<body>`), calling the plugin's
`decrypt_message`, as slixmpp-omemo's users write it. For OMEMO 2 that call decrypts the key
and the payload through python-omemo and then raises NotImplementedError carrying the
plaintext (slixmpp-omemo 2.2 does not unpack SCE); the envelope's body is taken from there.

Production code never imports this (import-linter forbids `slixmpp_omemo` under tui_omemo).
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import copy
import secrets
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import oldmemo
import slixmpp
import twomemo.etree
from omemo.storage import Just, Maybe, Nothing, Storage
from omemo.types import DeviceInformation, JSONType
from slixmpp.plugins import register_plugin
from slixmpp_omemo import XEP_0384
from slixmpp_omemo.base_session_manager import TrustLevel as PeerTrust
from slixmpp_omemo.xep_0384 import _make_session_manager as make_session_manager

from tests.prosody import ProsodyServer

LEGACY = "eu.siacs.conversations.axolotl"
V2 = "urn:xmpp:omemo:2"
SCE = "urn:xmpp:sce:1"
TIMEOUT = 30.0
FALLBACK_MARKER = "{urn:xmpp:fallback:0}fallback"
REPLACE = "{urn:xmpp:message-correct:0}replace"
REPLY = "{urn:xmpp:reply:0}reply"
REPLY_NS = "urn:xmpp:reply:0"


class MemoryStorage(Storage):
    """python-omemo's key/value storage in a dict."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, JSONType] = {}

    async def _load(self, key: str) -> Maybe[JSONType]:
        return Just(self.data[key]) if key in self.data else Nothing()

    async def _store(self, key: str, value: JSONType) -> None:
        self.data[key] = value

    async def _delete(self, key: str) -> None:
        self.data.pop(key, None)


class MemoryOmemoPlugin(XEP_0384):  # type: ignore[misc]
    """slixmpp_omemo's plugin with in-memory storage and BTBV on."""

    default_config: ClassVar[dict[str, Any]] = {
        "fallback_message": "This message is OMEMO encrypted."
    }

    def plugin_init(self) -> None:
        self._memory_storage = MemoryStorage()
        super().plugin_init()

    @property
    def storage(self) -> Storage:
        return self._memory_storage

    @property
    def _btbv_enabled(self) -> bool:
        return True

    async def _devices_blindly_trusted(
        self, blindly_trusted: frozenset[DeviceInformation], identifier: str | None
    ) -> None:
        return None

    async def _prompt_manual_trust(
        self, manually_trusted: frozenset[DeviceInformation], identifier: str | None
    ) -> None:
        session_manager = await self.get_session_manager()
        for device in manually_trusted:
            await session_manager.set_trust(
                device.bare_jid, device.identity_key, PeerTrust.TRUSTED.value
            )


register_plugin(MemoryOmemoPlugin)


def speak_only_legacy(plugin: Any) -> None:
    """Make a freshly registered plugin build its session manager with `oldmemo` alone."""
    built: dict[str, asyncio.Future[Any]] = {}

    async def build() -> Any:
        manager = await make_session_manager(plugin.xmpp, plugin).create(
            [oldmemo.Oldmemo(plugin.storage, 1000, None)],
            plugin.storage,
            plugin.xmpp.boundjid.bare,
            initial_own_label=None,
            undecided_trust_level_name=PeerTrust.UNDECIDED.value,
            signed_pre_key_rotation_period=7 * 24 * 3600,
            pre_key_refill_threshold=99,
        )
        await manager.ensure_data_consistency()
        await manager.after_history_sync()
        return manager

    async def get_session_manager() -> Any:
        if "manager" not in built:
            built["manager"] = asyncio.ensure_future(build())
            manager = await built["manager"]
            plugin.xmpp.event("omemo_initialized")
            return manager
        return await built["manager"]

    plugin.get_session_manager = get_session_manager


def without_omemo_2(stanza: slixmpp.Message) -> slixmpp.Message:
    """A copy of `stanza` without its OMEMO 2 element: what a 0.3-only client reads."""
    copied = copy.copy(stanza)
    for element in copied.xml.findall(f"{{{V2}}}encrypted"):
        copied.xml.remove(element)
    return copied


def sce_envelope(text: str, sender: str, to: str, extra: tuple[ET.Element, ...] = ()) -> bytes:
    """An XEP-0420 envelope of `text` (and the `extra` elements) with the affixes the OMEMO 2
    profile asks for (written here, independent of tui_omemo's)."""
    root = ET.Element(f"{{{SCE}}}envelope")
    content = ET.SubElement(root, f"{{{SCE}}}content")
    ET.SubElement(content, "{jabber:client}body").text = text
    content.extend(extra)
    ET.SubElement(root, f"{{{SCE}}}rpad").text = secrets.token_urlsafe(secrets.randbelow(20) + 1)
    stamp = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    ET.SubElement(root, f"{{{SCE}}}time", stamp=stamp)
    ET.SubElement(root, f"{{{SCE}}}to", jid=to)
    ET.SubElement(root, f"{{{SCE}}}from", jid=sender)
    return ET.tostring(root)


def sce_body(envelope: bytes) -> str:
    """The `<body>` of a decrypted SCE envelope."""
    return ET.fromstring(envelope).findtext(f"{{{SCE}}}content/{{jabber:client}}body") or ""


def sce_replaces(envelope: bytes) -> str | None:
    """The id of a XEP-0308 `<replace>` in a decrypted SCE envelope's content, or None."""
    found = ET.fromstring(envelope).find(f"{{{SCE}}}content/{REPLACE}")
    return None if found is None else found.get("id")


def reply_parts(parent: ET.Element, body: str) -> tuple[str | None, str]:
    """The id a `<reply>` child of `parent` names (None without one), and `body` without the
    reply's `<fallback>` range (as it came when the range is missing or does not fit)."""
    reply = parent.find(REPLY)
    if reply is None:
        return None, body
    for fallback in parent.findall(FALLBACK_MARKER):
        found = fallback.find("{urn:xmpp:fallback:0}body")
        if fallback.get("for") == REPLY_NS and found is not None:
            start, end = int(found.get("start", "0")), int(found.get("end", "0"))
            if 0 <= start < end <= len(body):
                body = body[:start] + body[end:]
    return reply.get("id"), body


def replied_jid(parent: ET.Element) -> str | None:
    """The `to` of a `<reply>` child of `parent` (None without one)."""
    reply = parent.find(REPLY)
    return None if reply is None else reply.get("to")


def sce_plaintext(error: NotImplementedError) -> bytes:
    """The OMEMO 2 plaintext slixmpp-omemo 2.2's `decrypt_message` decrypted and then gave up
    on: its message ends with "Plaintext: " and the bytes' repr."""
    _, found, plaintext = str(error).partition("Plaintext: ")
    assert found, f"not slixmpp-omemo's SCE error: {error}"
    value = ast.literal_eval(plaintext)
    assert isinstance(value, bytes)
    return value


@dataclass(frozen=True)
class PeerMessage:
    """A message the peer decrypted."""

    sender: str
    device_id: int
    text: str
    namespace: str
    replaces: str | None = None
    """A correction (XEP-0308): the id of the message it replaces."""
    message_id: str | None = None
    reply_to: str | None = None
    """A reply (XEP-0461): the id of the message it answers."""
    shown: str = ""
    """The text without a reply's quoted fallback (the text itself for any other message)."""
    stanza_id: str | None = None
    """In a room: the stanza-id the room stamped on it (XEP-0359), what a reply names."""
    reply_for: str | None = None
    """A reply: whom its `<reply>` addresses (`to`: in a room, the author's occupant JID)."""


class OmemoPeer:
    """One logged-in slixmpp client with slixmpp-omemo (use `start`)."""

    def __init__(self, client: slixmpp.ClientXMPP, *, legacy_only: bool = False) -> None:
        self.client = client
        self.legacy_only = legacy_only
        self.received: asyncio.Queue[PeerMessage] = asyncio.Queue()
        self.errors: list[str] = []
        self.envelopes: list[bytes] = []
        """Every OMEMO 2 plaintext (SCE envelope) decrypted, in order."""
        client.add_event_handler("message", self._on_message)

    @property
    def plugin(self) -> Any:
        return self.client.plugin["xep_0384"]

    @classmethod
    async def start(
        cls, server: ProsodyServer, jid: str, password: str, *, legacy_only: bool = False
    ) -> OmemoPeer:
        """Log in and wait until the OMEMO data is published (only 0.3 with `legacy_only`)."""
        client = slixmpp.ClientXMPP(jid, password)
        client.enable_direct_tls = False
        client.enable_starttls = False
        client.enable_plaintext = True
        client.plugin["feature_mechanisms"].unencrypted_scram = True
        client.auto_authorize = True
        client.auto_subscribe = True
        names = ("xep_0030", "xep_0060", "xep_0199", "xep_0280", "xep_0308", "xep_0461")
        for plugin in (*names, "xep_0384"):
            client.register_plugin(plugin)
        if legacy_only:
            plugins: Any = client.plugin
            speak_only_legacy(plugins["xep_0384"])
        loop = asyncio.get_running_loop()
        started: asyncio.Future[None] = loop.create_future()
        ready: asyncio.Future[None] = loop.create_future()
        client.add_event_handler("session_start", lambda _e: _settle(started))
        client.add_event_handler("omemo_initialized", lambda _e: _settle(ready))
        peer = cls(client, legacy_only=legacy_only)
        client.connect(server.host, server.port)
        await asyncio.wait_for(started, TIMEOUT)
        await client.get_roster()
        client.send_presence()
        await asyncio.wait_for(ready, TIMEOUT)
        return peer

    async def device_id(self) -> int:
        """This peer's OMEMO device id."""
        session_manager = await self.plugin.get_session_manager()
        own = (await session_manager.get_own_device_information())[0]
        return int(own.device_id)

    async def subscribe(self, jid: str) -> None:
        """Ask for a presence subscription (the other side approves automatically)."""
        self.client.send_presence_subscription(pto=jid)

    async def wait_subscribed(self, jid: str, wait: float = TIMEOUT) -> None:
        """Wait until the roster shows a mutual subscription with `jid`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while self.client.client_roster[jid]["subscription"] != "both":
            if loop.time() > deadline:
                raise TimeoutError(f"no mutual subscription with {jid}")
            await asyncio.sleep(0.05)

    async def refresh(self, jid: str) -> None:
        """Download `jid`'s device lists again (after it published new ones)."""
        await self.plugin.refresh_device_lists({slixmpp.JID(jid)}, force_download=True)

    def quoting(self, to: str, text: str, reply: tuple[str, str]) -> slixmpp.Message:
        """A message answering `reply` (its id and the text to quote) as slixmpp's XEP-0461
        plugin builds it: `<reply>`, the "> quote" lines before `text`, their `<fallback>`."""
        plugin: Any = self.client.plugin["xep_0461"]
        message: slixmpp.Message = plugin.make_reply(
            to, reply[0], reply[1], mto=to, mbody=text, mtype="chat"
        )
        return message

    async def send_v2(
        self,
        to: str,
        text: str,
        members: set[str] | None = None,
        reply: tuple[str, str] | None = None,
    ) -> None:
        """Encrypt `text` in OMEMO 2 for `to` (or, for a room `to`, for its `members`) with
        python-omemo's session manager and send it as slixmpp-omemo shapes its stanzas; a
        reply to `reply` (id, quoted text) carries `<reply>` and `<fallback>` in the
        envelope."""
        recipients = {slixmpp.JID(jid) for jid in (members or {to})}
        await self.plugin.refresh_device_lists(recipients)
        manager = await self.plugin.get_session_manager()
        extra: tuple[ET.Element, ...] = ()
        if reply is not None:
            quoted = self.quoting(to, text, reply)
            text, extra = quoted["body"], reply_elements(quoted)
        envelope = sce_envelope(text, self.client.boundjid.bare, slixmpp.JID(to).bare, extra)
        messages, errors = await manager.encrypt(
            frozenset(jid.bare for jid in recipients), {V2: envelope}, backend_priority_order=[V2]
        )
        self.errors.extend(repr(error) for error in errors)
        stanza = self.client.make_message(mto=to, mtype="chat" if members is None else "groupchat")
        stanza["body"] = self.plugin.fallback_message
        stanza.enable("store")
        for message in messages:
            stanza.append(twomemo.etree.serialize_message(message))
        stanza.send()

    async def send(
        self,
        to: str,
        text: str,
        replaces: str | None = None,
        reply: tuple[str, str] | None = None,
    ) -> str:
        """Encrypt `text` for every device of `to` (slixmpp-omemo picks 0.3) and send it; a
        correction of the message `replaces` when given: slixmpp-omemo encrypts only the
        body, so its users add slixmpp's XEP-0308 `<replace>` to the encrypted stanza (where
        Conversations puts it); a reply to `reply` (id, quoted text) likewise gets its
        `<reply>` and `<fallback>` back on the encrypted stanza. Returns the stanza id."""
        message = self.client.make_message(mto=to, mbody=text, mtype="chat")
        if reply is not None:
            message = self.quoting(to, text, reply)
        encrypted, errors = await self.plugin.encrypt_message(message, slixmpp.JID(to))
        if errors:
            self.errors.extend(repr(error) for error in errors)
        assert encrypted is not None, "slixmpp-omemo produced nothing to send"
        if replaces is not None:
            encrypted["replace"]["id"] = replaces
        encrypted.xml.extend(reply_elements(message))
        encrypted.send()
        return str(encrypted["id"])

    async def next_message(self, wait: float = TIMEOUT) -> PeerMessage:
        """The next decrypted message."""
        return await asyncio.wait_for(self.received.get(), wait)

    async def stop(self) -> None:
        """Log out."""
        self.client.disconnect()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.client.disconnected, 10)

    async def _on_message(self, stanza: slixmpp.Message) -> None:
        namespaces = self.plugin.is_encrypted(stanza)
        if not namespaces or stanza["type"] not in ("chat", "normal"):
            return
        if self.legacy_only:
            stanza = without_omemo_2(stanza)
            namespaces &= {LEGACY}
            if not namespaces:  # OMEMO 2 only: a 0.3 client sees nothing to decrypt
                return
        decrypted = await self.decrypt(stanza, namespaces)
        if decrypted is not None and decrypted.text:
            await self.received.put(decrypted)

    async def decrypt(self, stanza: slixmpp.Message, namespaces: set[str]) -> PeerMessage | None:
        """Decrypt through the plugin's `decrypt_message` (None, with the reason in `errors`,
        when it fails); the sender is the stanza's `from` (for a room: the occupant JID)."""
        sender = stanza["from"].bare if stanza["type"] != "groupchat" else str(stanza["from"])
        try:
            decrypted, device = await self.plugin.decrypt_message(stanza)
        except NotImplementedError as error:  # OMEMO 2: decrypted, but SCE is not unpacked
            header = stanza.xml.find(f"{{{V2}}}encrypted/{{{V2}}}header")
            assert header is not None
            envelope = sce_plaintext(error)
            self.envelopes.append(envelope)
            sid = int(header.get("sid", "0"))
            text, replaces = sce_body(envelope), sce_replaces(envelope)
            content = ET.fromstring(envelope).find(f"{{{SCE}}}content")
            assert content is not None
            reply_to, shown = reply_parts(content, text)
            message_id, reply_for = stanza["id"] or None, replied_jid(content)
            return PeerMessage(
                sender, sid, text, V2, replaces, message_id, reply_to, shown, reply_for=reply_for
            )
        except Exception as error:  # keep the reason for the test's assertion message
            self.errors.append(f"{type(error).__name__}: {error}")
            return None
        namespace = V2 if V2 in namespaces else LEGACY
        text = str(decrypted["body"] or "")
        replace = decrypted.xml.find(REPLACE)  # 0.3: outside the encryption, kept as it came
        replaces = None if replace is None else replace.get("id")
        device_id, message_id = int(device.device_id), stanza["id"] or None
        reply_to, shown = reply_parts(decrypted.xml, text)  # 0.3: outside, as it came
        reply_for = replied_jid(decrypted.xml)
        return PeerMessage(
            sender,
            device_id,
            text,
            namespace,
            replaces,
            message_id,
            reply_to,
            shown,
            reply_for=reply_for,
        )


def reply_elements(message: slixmpp.Message) -> tuple[ET.Element, ...]:
    """Copies of the `<reply>` and the reply's `<fallback>` of `message` (none without)."""
    found = [message.xml.find(REPLY)]
    found += [f for f in message.xml.findall(FALLBACK_MARKER) if f.get("for") == REPLY_NS]
    return tuple(copy.deepcopy(element) for element in found if element is not None)


class PlainClient:
    """A slixmpp client without OMEMO (another resource of an account): what its `message`
    handler got, as slixmpp-based clients without OMEMO see messages."""

    def __init__(self, client: slixmpp.ClientXMPP) -> None:
        self.client = client
        self.received: asyncio.Queue[slixmpp.Message] = asyncio.Queue()
        client.add_event_handler("message", self.received.put_nowait)

    @classmethod
    async def start(cls, server: ProsodyServer, jid: str, password: str) -> PlainClient:
        """Log in as `jid/plain` and become available (priority 0, as the OMEMO peer)."""
        client = slixmpp.ClientXMPP(f"{jid}/plain", password)
        client.enable_direct_tls = False
        client.enable_starttls = False
        client.enable_plaintext = True
        client.plugin["feature_mechanisms"].unencrypted_scram = True
        started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        client.add_event_handler("session_start", lambda _e: _settle(started))
        plain = cls(client)
        client.connect(server.host, server.port)
        await asyncio.wait_for(started, TIMEOUT)
        client.send_presence()
        return plain

    async def next_message(self, wait: float = TIMEOUT) -> slixmpp.Message:
        """The next stanza slixmpp raised `message` for."""
        return await asyncio.wait_for(self.received.get(), wait)

    async def stop(self) -> None:
        """Log out."""
        self.client.disconnect()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.client.disconnected, 10)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
