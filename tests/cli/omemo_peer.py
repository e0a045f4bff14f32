"""A test-only XMPP peer speaking OMEMO through slixmpp-omemo 2.2 (python-omemo): an independent
implementation to check ours against through a real Prosody.

`OmemoPeer.start(server, jid, password)` logs in over plaintext loopback, loads the
slixmpp_omemo plugin with in-memory storage and Blind Trust Before Verification, and waits
until its device list and bundles are published. With `legacy_only=True` it is a device that
speaks only OMEMO 0.3, like Conversations or Gajim: python-omemo runs with the `oldmemo`
backend alone (so only the 0.3 device list and bundle are published), and its reader looks
only at the 0.3 `<encrypted>` element (slixmpp-omemo itself would pick an OMEMO 2 element
first, whether or not it loaded that backend). `send(to, text)` encrypts with whatever
slixmpp-omemo picks (it can only *send* OMEMO 0.3: it has no SCE), `received` is a queue of
decrypted messages. slixmpp-omemo 2.2 cannot decrypt OMEMO 2 (SCE is not implemented there),
so messages to it must be 0.3.

Production code never imports this (import-linter forbids `slixmpp_omemo` under tui_omemo).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from dataclasses import dataclass
from typing import Any, ClassVar

import oldmemo
import slixmpp
from omemo.storage import Just, Maybe, Nothing, Storage
from omemo.types import DeviceInformation, JSONType
from slixmpp.plugins import register_plugin
from slixmpp_omemo import XEP_0384
from slixmpp_omemo.base_session_manager import TrustLevel as PeerTrust
from slixmpp_omemo.xep_0384 import _make_session_manager as make_session_manager

from tests.prosody import ProsodyServer

LEGACY = "eu.siacs.conversations.axolotl"
V2 = "urn:xmpp:omemo:2"
TIMEOUT = 30.0


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
            [oldmemo.Oldmemo(plugin.storage, 1000, None)], plugin.storage,
            plugin.xmpp.boundjid.bare, initial_own_label=None,
            undecided_trust_level_name=PeerTrust.UNDECIDED.value,
            signed_pre_key_rotation_period=7 * 24 * 3600, pre_key_refill_threshold=99)
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


@dataclass(frozen=True)
class PeerMessage:
    """A message the peer decrypted."""

    sender: str
    device_id: int
    text: str
    namespace: str


class OmemoPeer:
    """One logged-in slixmpp client with slixmpp-omemo (use `start`)."""

    def __init__(self, client: slixmpp.ClientXMPP, *, legacy_only: bool = False) -> None:
        self.client = client
        self.legacy_only = legacy_only
        self.received: asyncio.Queue[PeerMessage] = asyncio.Queue()
        self.errors: list[str] = []
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
        for plugin in ("xep_0030", "xep_0060", "xep_0199", "xep_0280", "xep_0384"):
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

    async def send(self, to: str, text: str) -> None:
        """Encrypt `text` for every device of `to` (slixmpp-omemo picks 0.3) and send it."""
        message = self.client.make_message(mto=to, mbody=text, mtype="chat")
        encrypted, errors = await self.plugin.encrypt_message(message, slixmpp.JID(to))
        if errors:
            self.errors.extend(repr(error) for error in errors)
        assert encrypted is not None, "slixmpp-omemo produced nothing to send"
        encrypted.send()

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
        try:
            decrypted, device = await self.plugin.decrypt_message(stanza)
        except Exception as error:  # keep the reason for the test's assertion message
            self.errors.append(f"{type(error).__name__}: {error}")
            return
        body = decrypted["body"]
        if body:
            namespace = V2 if V2 in namespaces else LEGACY
            await self.received.put(
                PeerMessage(stanza["from"].bare, int(device.device_id), str(body), namespace)
            )


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
