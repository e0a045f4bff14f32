"""An in-memory XMPP server and the service's `Transport` port over it, for service tests.

`FakeNetwork` plays the server: accounts with a roster, PEP (device lists and bundles per
namespace), a message archive per account and offline storage. `FakeNetwork.transport(jid)`
logs a resource in and returns a `FakeTransport`, which implements `service.ports.Transport`
the way `xmpp.transport.XmppTransport` does over Prosody. `tests/contract/test_transport.py`
runs the same assertions on both, so a service test that moves from Prosody to this fake keeps
testing the real behaviour of the port.

What it does, as the real server and client do:

* a message to a bare JID goes to every available resource of the recipient (`LIVE`, stamped
  with a stanza-id of the recipient's archive; Prosody gives a bare-JID message to all
  resources of equal priority) and as a carbon (`CARBON_SENT`) to the sender's other available
  resources; without an available resource it waits in offline storage and comes (`OFFLINE`,
  with a delay stamp) after `go_online`. Messages are only ever sent to bare JIDs, so no
  `CARBON_RECEIVED` copy is made;
* both archives keep it: `mam_page` pages through ours (`MAM` results of a query we opened),
  `archived_sent_ids` finds our sent messages by origin-id;
* PEP: an unknown device list reads as empty, an unknown bundle raises `BundleUnavailable`; a
  published device list is announced to the available resources (presence sent) of our own
  account and of contacts subscribed to us;
* SCE envelopes are the real ones (`xmpp.transport.build_envelope`/`parse_envelope`);
* a resource taken off the network (`drop`) refuses to send (`NotConnected`), as a client
  without a stream does.

Nothing here is secret-bearing or persistent; it lives as long as the `FakeNetwork`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

from tui_omemo.model import AckKind, Acknowledgement, Arrival, Namespace, ReplyRef, bare_jid
from tui_omemo.protocol.elements import DeviceList, WireBundle
from tui_omemo.protocol.errors import BundleUnavailable
from tui_omemo.service.ports import (
    ChatStateArrival,
    ChatStateHandler,
    ConnectionHandler,
    DeviceListHandler,
    Envelope,
    Inbound,
    InboundHandler,
    MamPage,
    NotConnected,
    Outbound,
    Presence,
)
from tui_omemo.store import RosterItem
from tui_omemo.xmpp.transport import build_envelope, parse_envelope


@dataclass
class _Archived:
    """One message in an account's archive."""

    stanza_id: str
    inbound: Inbound
    outgoing: bool
    at_ms: int


@dataclass
class _Account:
    """What the server keeps for one bare JID."""

    jid: str
    roster: dict[str, RosterItem] = field(default_factory=dict)
    resources: list[FakeTransport] = field(default_factory=list)
    archive: list[_Archived] = field(default_factory=list)
    offline: list[Inbound] = field(default_factory=list)


class FakeNetwork:
    """The in-memory server: accounts, PEP, archives, offline storage (see the module
    docstring)."""

    def __init__(self, domain: str = "fake.example") -> None:
        self.domain = domain
        self._accounts: dict[str, _Account] = {}
        self._device_lists: dict[tuple[str, Namespace], DeviceList] = {}
        self._bundles: dict[tuple[str, Namespace, int], WireBundle] = {}
        self._ids = itertools.count(1)

    def new_jid(self) -> str:
        """A fresh account's bare JID."""
        return f"user{next(self._ids)}@{self.domain}"

    def transport(self, jid: str, resource: str | None = None) -> FakeTransport:
        """Log a resource of `jid` in (connected, no presence yet)."""
        account = self._account(jid)
        transport = FakeTransport(self, account.jid, resource or f"r{next(self._ids)}")
        account.resources.append(transport)
        return transport

    def drop(self, transport: FakeTransport) -> None:
        """Take a resource off the network (its sends fail with NotConnected)."""
        account = self._account(transport.own_bare_jid)
        if transport in account.resources:
            account.resources.remove(transport)
        transport.connected = False

    def _account(self, jid: str) -> _Account:
        jid = bare_jid(jid)
        return self._accounts.setdefault(jid, _Account(jid))

    def _stanza_id(self) -> str:
        return f"sid-{next(self._ids)}"

    # --- messages --------------------------------------------------------------------

    def deliver(self, sender: FakeTransport, message: Outbound) -> None:
        """Route one message from `sender` (see the module docstring)."""
        now = _now_ms()
        inbound = Inbound(
            Arrival.LIVE,
            sender.full_jid,
            message.to,
            message_id=message.message_id,
            origin_id=message.message_id,
            body=message.body,
            encrypted=message.encrypted,
            also=message.also,
            replaces=message.replaces,
            reply=message.reply,
            receipt=message.encrypted is None or message.encrypted.payload is not None,
            markable=message.encrypted is None or message.encrypted.payload is not None,
        )
        own = self._account(sender.own_bare_jid)
        kept = dataclasses.replace(inbound, stanza_id=self._stanza_id())
        own.archive.append(_Archived(kept.stanza_id or "", kept, True, now))
        for other in own.resources:
            if other is not sender and other.available:
                other.receive(
                    dataclasses.replace(
                        kept, arrival=Arrival.CARBON_SENT, wrapper_from=own.jid, stanza_id=None
                    )
                )
        target = self._account(message.to)
        if target is own:
            return
        stamped = dataclasses.replace(inbound, stanza_id=self._stanza_id())
        target.archive.append(_Archived(stamped.stanza_id or "", stamped, False, now))
        available = [resource for resource in target.resources if resource.available]
        if not available:
            target.offline.append(dataclasses.replace(stamped, timestamp_ms=now))
            return
        for resource in available:
            resource.receive(stamped)

    def acknowledge(self, sender: FakeTransport, to: str, ack: Acknowledgement) -> None:
        """Route a receipt or marker to every available resource of `to`'s account."""
        for resource in self._account(bare_jid(to)).resources:
            if resource is not sender and resource.available:
                resource.acknowledged(ack)

    def came_online(self, transport: FakeTransport) -> None:
        """Hand the offline messages to a resource that just sent its presence."""
        account = self._account(transport.own_bare_jid)
        waiting, account.offline = account.offline, []
        for inbound in waiting:
            transport.receive(dataclasses.replace(inbound, arrival=Arrival.OFFLINE))

    def archive_page(self, jid: str, after: str | None, max_items: int) -> MamPage:
        """One page of an account's archive after stanza-id `after`, oldest first."""
        archive = self._account(jid).archive
        start = 0
        if after is not None:
            start = next((i + 1 for i, a in enumerate(archive) if a.stanza_id == after), 0)
        chunk = archive[start : start + max_items]
        query = f"q{next(self._ids)}"
        results = [
            dataclasses.replace(
                item.inbound,
                arrival=Arrival.MAM,
                stanza_id=item.stanza_id,
                timestamp_ms=item.at_ms,
                wrapper_from=bare_jid(jid),
                mam_query_id=query,
                solicited=True,
            )
            for item in chunk
        ]
        last = chunk[-1].stanza_id if chunk else None
        return MamPage(results, last, start + len(chunk) >= len(archive))

    def archived_sent(self, jid: str, message_ids: Collection[str], since_ms: int) -> set[str]:
        """Which of `message_ids` the account's archive holds as sent since `since_ms`."""
        wanted = set(message_ids)
        return {
            item.inbound.origin_id
            for item in self._account(jid).archive
            if item.outgoing and item.at_ms >= since_ms and item.inbound.origin_id in wanted
        }

    def last_archive_id(self, jid: str) -> str | None:
        """The newest stanza-id of an account's archive."""
        archive = self._account(jid).archive
        return archive[-1].stanza_id if archive else None

    # --- PEP -------------------------------------------------------------------------

    def device_list(self, namespace: Namespace, jid: str) -> DeviceList:
        """A published device list (empty when none)."""
        return self._device_lists.get((bare_jid(jid), namespace), DeviceList(namespace, ()))

    def publish_device_list(self, jid: str, device_list: DeviceList) -> None:
        """Store a device list and announce it to the owner and its subscribers."""
        jid = bare_jid(jid)
        self._device_lists[jid, device_list.namespace] = device_list
        for account in self._accounts.values():
            if account.jid == jid or _subscribed_to(account, jid):
                for resource in account.resources:
                    if resource.available:  # notifications follow presence
                        resource.device_list_changed(jid, device_list)

    def bundle(self, namespace: Namespace, jid: str, device_id: int) -> WireBundle:
        """A published bundle (raises BundleUnavailable)."""
        try:
            return self._bundles[bare_jid(jid), namespace, device_id]
        except KeyError:
            raise BundleUnavailable(f"bundle of {bare_jid(jid)}/{device_id}: none") from None

    def publish_bundle(self, jid: str, device_id: int, bundle: WireBundle) -> None:
        """Store a bundle under its namespace."""
        self._bundles[bare_jid(jid), bundle.namespace, device_id] = bundle

    # --- roster and presence ---------------------------------------------------------

    def roster(self, jid: str) -> list[RosterItem]:
        """An account's roster."""
        return list(self._account(jid).roster.values())

    def set_roster_item(self, jid: str, item: RosterItem | None, contact: str) -> None:
        """Change (None: remove) one roster entry and push the change to every resource."""
        account = self._account(jid)
        if item is None:
            account.roster.pop(contact, None)
        else:
            account.roster[contact] = item
        for resource in account.resources:
            resource.roster_pushed()

    def presence(self, jid: str, contact: str) -> Presence:
        """`contact`'s availability as `jid` sees it (only with a subscription to it)."""
        if not _subscribed_to(self._account(jid), bare_jid(contact)):
            return Presence.OFFLINE
        online = any(resource.available for resource in self._account(contact).resources)
        return Presence.ONLINE if online else Presence.OFFLINE

    def available_resources(self, jid: str) -> list[FakeTransport]:
        """The resources of `jid` that sent their presence."""
        return [r for r in self._account(jid).resources if r.available]

    def status_text(self, jid: str, contact: str) -> str:
        """`contact`'s status message as `jid` sees it (only with a subscription to it)."""
        if not _subscribed_to(self._account(jid), bare_jid(contact)):
            return ""
        texts = [r.status for r in self._account(contact).resources if r.available and r.status]
        return texts[0] if texts else ""


def _subscribed_to(account: _Account, jid: str) -> bool:
    item = account.roster.get(jid)
    return item is not None and item.subscription in ("to", "both")


def _now_ms() -> int:
    return int(time.time() * 1000)


class FakeTransport:
    """`service.ports.Transport` of one resource on a `FakeNetwork`."""

    def __init__(self, network: FakeNetwork, jid: str, resource: str) -> None:
        self._network = network
        self._jid = jid
        self.full_jid = f"{jid}/{resource}"
        self.connected = True
        self.available = False
        self._inbound: InboundHandler | None = None
        self._connection: ConnectionHandler | None = None
        self._device_lists: DeviceListHandler | None = None
        self._presence: Callable[[str], None] | None = None
        self._roster: Callable[[], None] | None = None
        self._acknowledgements: Callable[[Acknowledgement], None] | None = None
        self.status = ""
        """The status message this resource announced last."""
        self.answers: dict[str, bool] = {}
        self._chat_states: ChatStateHandler | None = None
        """Subscription answers given, by bare JID (this fake has no subscription requests)."""

    @property
    def own_bare_jid(self) -> str:
        """Our bare JID."""
        return self._jid

    def disconnect(self) -> None:
        """Leave the network (the service was stopped)."""
        self._network.drop(self)

    def set_handlers(self, inbound: InboundHandler, connection: ConnectionHandler) -> None:
        """Where incoming messages and connection changes go."""
        self._inbound = inbound
        self._connection = connection

    def set_device_list_handler(self, handler: DeviceListHandler) -> None:
        """Where device-list notifications go."""
        self._device_lists = handler

    def set_presence_handler(self, handler: Callable[[str], None]) -> None:
        """Called with a contact's bare JID when its presence changes."""
        self._presence = handler

    def set_roster_handler(self, handler: Callable[[], None]) -> None:
        """Called when the server pushes a roster change."""
        self._roster = handler

    def set_acknowledgement_handler(self, handler: Callable[[Acknowledgement], None]) -> None:
        """Where incoming receipts and displayed markers go."""
        self._acknowledgements = handler

    def send_acknowledgement(self, to: str, kind: AckKind, message_id: str) -> None:
        """Send a receipt or displayed marker."""
        self._check()
        self._network.acknowledge(self, to, Acknowledgement(kind, self.full_jid, message_id))

    def sent_since_online(self, sender: str, message_id: str | None) -> bool:
        """Never: this server archives no acknowledgements, so none comes back."""
        return False

    # --- called by the network -----------------------------------------------------------

    def acknowledged(self, ack: Acknowledgement) -> None:
        """A receipt or marker, handed over on the next loop step."""
        if self._acknowledgements is not None:
            asyncio.get_running_loop().call_soon(self._acknowledgements, ack)

    def receive(self, inbound: Inbound) -> None:
        """One incoming message, handed to the inbound handler on the next loop step (a
        stanza arrives from the socket, never inside the sender's call)."""
        if self._inbound is not None:
            asyncio.get_running_loop().call_soon(self._inbound, inbound)

    def device_list_changed(self, jid: str, device_list: DeviceList) -> None:
        """A PEP notification."""
        if self._device_lists is not None:
            asyncio.get_running_loop().call_soon(self._device_lists, jid, device_list)

    def roster_pushed(self) -> None:
        """A roster push."""
        if self._roster is not None:
            asyncio.get_running_loop().call_soon(self._roster)

    # --- the port ------------------------------------------------------------------------

    def _check(self) -> None:
        if not self.connected:
            raise NotConnected("not connected")

    async def go_online(self) -> None:
        """Send our presence: offline messages follow."""
        self._check()
        self.available = True
        self._network.came_online(self)

    async def fetch_device_list(self, namespace: Namespace, bare_jid_: str) -> DeviceList:
        """The current device list (empty when none is published)."""
        self._check()
        return self._network.device_list(namespace, bare_jid_)

    async def publish_device_list(self, device_list: DeviceList) -> None:
        """Publish our device list for its namespace."""
        self._check()
        self._network.publish_device_list(self._jid, device_list)

    async def fetch_bundle(
        self, namespace: Namespace, bare_jid_: str, device_id: int
    ) -> WireBundle:
        """A device's bundle (raises `BundleUnavailable`)."""
        self._check()
        return self._network.bundle(namespace, bare_jid_, device_id)

    async def publish_bundle(self, device_id: int, bundle: WireBundle) -> None:
        """Publish our bundle for its namespace."""
        self._check()
        self._network.publish_bundle(self._jid, device_id, bundle)

    async def send(self, message: Outbound) -> None:
        """Send one chat message (raises NotConnected without a stream); the chat state it
        carries reaches the contact's available resources as one sent alone does."""
        self._check()
        self._network.deliver(self, message)
        if message.chat_state is not None:
            self.send_chat_state(message.to, message.chat_state, groupchat=False)

    async def mam_page(self, after: str | None, max_items: int) -> MamPage:
        """One page of our archive after `after`."""
        self._check()
        return self._network.archive_page(self._jid, after, max_items)

    async def mam_last_id(self) -> str | None:
        """The stanza-id of the newest message in our archive."""
        self._check()
        return self._network.last_archive_id(self._jid)

    async def archived_sent_ids(self, message_ids: Collection[str], since_ms: int) -> set[str]:
        """Which of our sent messages our archive holds since `since_ms`."""
        self._check()
        return self._network.archived_sent(self._jid, message_ids, since_ms)

    async def ping(self, within: float) -> None:
        """A round trip to the server (raises NotConnected without a stream)."""
        self._check()

    def build_envelope(
        self,
        body: str,
        to: str,
        sender: str,
        replaces: str | None = None,
        reply: ReplyRef | None = None,
    ) -> bytes:
        """An SCE envelope (the real one)."""
        return build_envelope(body, to, sender, replaces, reply)

    def parse_envelope(self, data: bytes) -> Envelope:
        """Read an SCE envelope (raises ValueError when it is not one)."""
        return parse_envelope(data)

    async def roster(self) -> Sequence[RosterItem]:
        """The server roster."""
        self._check()
        return self._network.roster(self._jid)

    async def add_contact(self, bare_jid_: str) -> None:
        """Add to the roster, asking for a subscription (pending until answered)."""
        self._check()
        jid = bare_jid(bare_jid_)
        self._network.set_roster_item(self._jid, RosterItem(jid, None, "pending"), jid)

    async def remove_contact(self, bare_jid_: str) -> None:
        """Remove from the roster."""
        self._check()
        jid = bare_jid(bare_jid_)
        self._network.set_roster_item(self._jid, None, jid)

    async def rename_contact(self, bare_jid_: str, name: str, groups: tuple[str, ...]) -> None:
        """Set the roster name (empty: none), keeping the groups."""
        self._check()
        jid = bare_jid(bare_jid_)
        current = {item.bare_jid: item for item in self._network.roster(self._jid)}.get(jid)
        subscription = current.subscription if current is not None else "none"
        item = RosterItem(jid, name or None, subscription, groups)
        self._network.set_roster_item(self._jid, item, jid)

    def presence(self, jid: str) -> Presence:
        """A contact's availability (OFFLINE without a subscription to it)."""
        return self._network.presence(self._jid, jid)

    def status_text(self, jid: str) -> str:
        """A contact's status message ("" without a subscription to it)."""
        return self._network.status_text(self._jid, jid)

    def announce(self, show: str, status: str) -> None:
        """Our availability and status message (the fake keeps only the text)."""
        self._check()
        self.status = status

    def answer_subscription(self, jid: str, allow: bool) -> None:
        """Record the answer (this fake network has no subscription handshake)."""
        self._check()
        self.answers[bare_jid(jid)] = allow

    def send_chat_state(self, to: str, state: str, *, groupchat: bool) -> None:
        """A chat state on its own: to the available resources of `to`, stored nowhere
        (this fake has no rooms: `groupchat` states go nowhere)."""
        self._check()
        if groupchat:
            return
        for resource in self._network.available_resources(to):
            resource.chat_state_arrived(ChatStateArrival(self.full_jid, "chat", state))

    def set_chat_state_handler(self, handler: ChatStateHandler) -> None:
        """Where chat states go."""
        self._chat_states = handler

    def chat_state_arrived(self, arrival: ChatStateArrival) -> None:
        """A chat state, handed over on the next loop step."""
        if self._chat_states is not None:
            asyncio.get_running_loop().call_soon(self._chat_states, arrival)

    def set_subscription_request_handler(self, handler: Callable[[str], None]) -> None:
        """No requests ever come on this fake network."""
