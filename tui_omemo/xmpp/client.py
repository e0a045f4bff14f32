"""`XmppClient`: the one async face of slixmpp in tui-omemo; the service and `RoomClient` run on it.

It is a small class over one part per concern, each in its own module:

* `connection.Connection` — the stream: connect (TLS required, see `secure`), login,
  reconnect with backoff and XEP-0198 resumption (`link.Link` for listeners), carbons, IQ
  requests, `ping`; `outgoing.Outgoing` writes our messages and counts stream-management acks;
  `tuning` keeps slixmpp's cost per stanza and per socket read down.
* `pep.OmemoDirectory` — device lists and bundles of both OMEMO versions (through the
  `tui_omemo_xep_0384` plugin).
* `archive.Archive` — MAM queries on our archive or a room's (only results of our own queries).
* `roster.Roster` — roster, contacts and presence (subscriptions never granted automatically).
* `sending.Sender` — encrypted and plain messages, invitations, raw stanzas for group chats.
* `inbound.Inbound` — incoming messages for the stanza sink, as `received.Received` values,
  refused ones included (forged carbons, malformed `<encrypted>`, unsolicited archive results).

Each part hooks its handlers into every new stream (`_setup`); the connection gates them all
(`tuning`). Incoming messages go only to the stanza sink (tests that want to await messages use
`devtools.queue_client`).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import datetime

import slixmpp

from tui_omemo.model import AckKind, Acknowledgement, Namespace, ReplyRef
from tui_omemo.protocol.elements import DeviceList, DeviceListEntry, EncryptedElement, WireBundle
from tui_omemo.xmpp.archive import Archive, ReceivedPage
from tui_omemo.xmpp.chatstates import ChatStateNotice, ChatStates
from tui_omemo.xmpp.connection import REQUEST_TIMEOUT, Connection
from tui_omemo.xmpp.inbound import Inbound
from tui_omemo.xmpp.link import (
    BACKOFF_CAP,
    BACKOFF_FIRST,
    ConnectionListener,
    Link,
    Pause,
    backoff_delay,
    backoff_pause,
    is_loopback,
)
from tui_omemo.xmpp.mam import ArchivePage
from tui_omemo.xmpp.pep import OmemoDirectory
from tui_omemo.xmpp.receipts import build_acknowledgement
from tui_omemo.xmpp.received import Received
from tui_omemo.xmpp.roster import Roster, RosterEntry
from tui_omemo.xmpp.secure import SecureStream, StreamSecurity
from tui_omemo.xmpp.sending import Sender
from tui_omemo.xmpp.tuning import READ_SIZE
from tui_omemo.xmpp.xep_0384 import XEP_0384, DeviceListUpdate

__all__ = [
    "BACKOFF_CAP",
    "BACKOFF_FIRST",
    "READ_SIZE",
    "REQUEST_TIMEOUT",
    "ConnectionListener",
    "Link",
    "Pause",
    "ReceivedPage",
    "RosterEntry",
    "XmppClient",
    "backoff_delay",
    "backoff_pause",
    "is_loopback",
]


class XmppClient:
    """One XMPP account connection.

    Args:
        jid: the account JID (bare or full; a resource is kept).
        password: the account password (never logged).
        host: the address to connect to; None to resolve the JID's domain (SRV).
        port: the c2s port.
        allow_plaintext_loopback: allow an unencrypted stream, which is only accepted when
            `host` is a loopback address (tests and the demo run Prosody on 127.0.0.1).
        reconnect: reconnect after an unexpected loss of an established session.
        resume: ask the server to keep the stream resumable (XEP-0198); False forces a fresh
            session on every reconnect.
        pause: waits before each reconnect attempt (default: `backoff_pause`).
        security: the certificate pin, the pinned login mechanism, a resolver (see
            `secure.StreamSecurity`); the rules of `secure` apply in any case.

    Raises:
        InsecureConnectionRefused: when plaintext is asked for on a non-loopback address.
    """

    def __init__(
        self,
        jid: str,
        password: str,
        *,
        host: str | None = None,
        port: int = 5222,
        allow_plaintext_loopback: bool = False,
        reconnect: bool = True,
        resume: bool = True,
        pause: Pause = backoff_pause,
        security: StreamSecurity | None = None,
    ) -> None:
        self._password = password  # tests open a second resource of the account with it
        self._certificate_pin = None if security is None else security.certificate_pin
        self._connection = Connection(
            jid,
            password,
            host=host,
            port=port,
            allow_plaintext_loopback=allow_plaintext_loopback,
            reconnect=reconnect,
            resume=resume,
            pause=pause,
            security=security,
            setup=self._setup,
        )
        self._directory = OmemoDirectory(self._connection)
        self._archive = Archive(self._connection)
        self._roster = Roster(self._connection)
        self._sender = Sender(self._connection)
        self._inbound = Inbound(self._connection, self._archive)
        self._chat_states = ChatStates(self._connection)

    def _setup(self, xmpp: SecureStream) -> None:
        self._inbound.setup(xmpp)
        self._roster.setup(xmpp)
        self._directory.setup(xmpp)
        self._chat_states.setup(xmpp)

    # --- connection (connection.Connection) ---------------------------------------------------

    @property
    def bare_jid(self) -> str:
        """Our bare JID."""
        return self._connection.bare_jid

    @property
    def full_jid(self) -> str:
        """The full JID the server bound (or the configured JID before connecting)."""
        return self._connection.full_jid

    @property
    def connected(self) -> bool:
        """True while a session is established."""
        return self._connection.connected

    @property
    def login_mechanism(self) -> str | None:
        """The SASL mechanism of the last successful login (None before one)."""
        return self._connection.login_mechanism

    @property
    def certificate_pin(self) -> str | None:
        """The account's pinned server certificate (`AA:BB:…`), None: CA trust only (file
        transfers to the same server accept it too, `http_files`)."""
        return self._certificate_pin

    @property
    def stream(self) -> slixmpp.ClientXMPP:
        """The slixmpp stream (tests hook outgoing XML and cut the socket here); raises
        `NotConnected` before `connect` or after `disconnect`."""
        return self._connection.stream

    def _stream(self) -> SecureStream:
        return self._connection.current()

    async def connect(self, within: float = 30, *, announce: bool = True) -> None:
        """Connect, log in, enable carbons and (with `announce`) send presence; see
        `Connection.connect`.

        Raises:
            InsecureConnectionRefused: TLS is required but the server offered none.
            AuthenticationFailed: the server refused the credentials.
            ConnectionFailed: nobody answers, or no session within `within` seconds.
        """
        await self._connection.connect(within, announce=announce)

    async def disconnect(self) -> None:
        """Close the stream for good; no reconnect follows."""
        await self._connection.disconnect()

    def add_connection_listener(self, listener: ConnectionListener) -> None:
        """Call `listener(link)` when the stream is lost, resumed, fresh again or closed."""
        self._connection.add_connection_listener(listener)

    def send_presence(self, show: str = "", status: str = "") -> None:
        """Announce our availability (and a `show`, a `status` text when given); the server
        then pushes what it stored meanwhile."""
        self._connection.send_presence(show, status)

    async def ping(self, within: float) -> None:
        """A round trip to the server: everything sent before has reached it (see
        `Connection.ping`).

        Raises:
            TransportError: no answer within `within` seconds, or no stream.
        """
        await self._connection.ping(within)

    async def request(
        self,
        iq_type: str,
        payload: ET.Element | None,
        *,
        to: str | None,
        what: str,
        within: float = REQUEST_TIMEOUT,
    ) -> ET.Element:
        """Send an IQ `get` or `set` with `payload` and return the result stanza.

        Raises:
            TransportError: for an error reply or a timeout; NotConnected without a stream.
        """
        return await self._connection.request(iq_type, payload, to=to, what=what, within=within)

    # --- OMEMO directory (pep.OmemoDirectory) -------------------------------------------------

    def _omemo(self) -> XEP_0384:
        return self._directory.plugin()

    async def fetch_device_list(self, jid: str, namespace: Namespace) -> DeviceList:
        """`jid`'s device list for `namespace` (empty when none)."""
        return await self._directory.fetch_device_list(jid, namespace)

    async def publish_device_list(
        self,
        namespace: Namespace,
        own: DeviceListEntry,
        *,
        drop: tuple[int, ...] = (),
        server: DeviceList | None = None,
    ) -> DeviceList:
        """Put our device on our own list, merged with the server's; returns the new list."""
        return await self._directory.publish_device_list(namespace, own, drop=drop, server=server)

    async def publish_exact_device_list(self, device_list: DeviceList) -> None:
        """Publish `device_list` as it is (the caller merged it with the server's list)."""
        await self._directory.publish_exact_device_list(device_list)

    async def publish_bundle(self, device_id: int, bundle: WireBundle) -> None:
        """Publish our bundle for `device_id` (access model open)."""
        await self._directory.publish_bundle(device_id, bundle)

    async def fetch_bundle(self, jid: str, namespace: Namespace, device_id: int) -> WireBundle:
        """`jid`'s bundle for `device_id`. Raises BundleNotFound when there is none."""
        return await self._directory.fetch_bundle(jid, namespace, device_id)

    def add_device_list_listener(self, listener: Callable[[DeviceListUpdate], None]) -> None:
        """Call `listener` for every device-list notification (ours and contacts')."""
        self._directory.add_device_list_listener(listener)

    # --- sending (sending.Sender) -------------------------------------------------------------

    def send_encrypted(
        self,
        encrypted: EncryptedElement,
        to: str,
        *,
        message_type: str = "chat",
        message_id: str | None = None,
        body_hint: str | None = None,
        also: EncryptedElement | None = None,
        replaces: str | None = None,
        reply: ReplyRef | None = None,
        chat_state: str | None = None,
    ) -> str:
        """Send `encrypted` (and `also`, an element of the other OMEMO version, in the same
        stanza) to `to`, a correction of the message `replaces` when given, carrying the
        XEP-0085 `chat_state` when given; returns the message id (also the origin-id).

        Raises:
            NotConnected: without a session.
        """
        return self._sender.send_encrypted(
            encrypted,
            to,
            message_type=message_type,
            message_id=message_id,
            body_hint=body_hint,
            also=also,
            replaces=replaces,
            reply=reply,
            chat_state=chat_state,
        )

    def send_plaintext(
        self,
        to: str,
        body: str,
        *,
        message_type: str = "chat",
        message_id: str | None = None,
        chat_state: str | None = None,
    ) -> str:
        """Send an unencrypted message (with a chat state when given); returns the message
        id (also the origin-id).

        Raises:
            NotConnected: without a session.
        """
        return self._sender.send_plaintext(
            to, body, message_type=message_type, message_id=message_id, chat_state=chat_state
        )

    def send_invitation(self, to: str, room: str) -> None:
        """Invite `to` into `room` directly (XEP-0249)."""
        self._sender.send_invitation(to, room)

    def send_stanza(self, element: ET.Element) -> None:
        """Send a `<message>` or `<presence>` built by `xmpp/`.

        Raises:
            NotConnected: without a session.
            ValueError: for any other element.
        """
        self._sender.send_stanza(element)

    # --- archives (archive.Archive) -----------------------------------------------------------

    async def query_archive(
        self,
        *,
        with_jid: str | None = None,
        start: datetime | None = None,
        after: str | None = None,
        max_results: int = 100,
        archive: str | None = None,
        last_page: bool = False,
        within: float = 60,
    ) -> ArchivePage:
        """One page of a MAM archive (ours, or a room's when `archive` is given); results
        not of this query are refused and counted in `rejected_archive_results`.

        Raises:
            ArchiveQueryFailed: on an error reply or a timeout.
            NotConnected: without a session.
        """
        return await self._archive.query_archive(
            with_jid=with_jid,
            start=start,
            after=after,
            max_results=max_results,
            archive=archive,
            last_page=last_page,
            within=within,
        )

    async def archive_page(
        self, *, after: str | None = None, max_results: int = 25, within: float = 60
    ) -> ReceivedPage:
        """One page of our own archive after `after`, as `Received` values (malformed
        results included, with their rejection).

        Raises:
            ArchiveQueryFailed: on an error reply or a timeout.
        """
        return await self._archive.archive_page(after=after, max_results=max_results, within=within)

    def archive_query_open(self, query_id: str) -> bool:
        """True while `query_id` belongs to one of our open archive queries."""
        return self._archive.archive_query_open(query_id)

    async def last_archive_id(self, archive: str | None = None) -> str | None:
        """The id of the newest message in our archive (or a room's), None when it is empty."""
        return await self._archive.last_archive_id(archive)

    @property
    def rejected_archive_results(self) -> int:
        """Archive results refused (unsolicited, forged or malformed)."""
        return self._archive.rejected_archive_results

    # --- roster and presence (roster.Roster) --------------------------------------------------

    async def roster(self) -> list[RosterEntry]:
        """Our roster as the server has it.

        Raises:
            TransportError: on an error reply or a timeout.
        """
        return await self._roster.roster()

    async def add_contact(self, jid: str, name: str | None = None) -> None:
        """Add `jid` to the roster, approve it and ask to see its presence.

        Raises:
            TransportError: when the roster update fails.
        """
        await self._roster.add_contact(jid, name)

    async def remove_contact(self, jid: str) -> None:
        """Remove `jid` from the roster; the server cancels both presence subscriptions.

        Raises:
            TransportError: when the roster update fails.
        """
        await self._roster.remove_contact(jid)

    async def rename_contact(self, jid: str, name: str, groups: tuple[str, ...] = ()) -> None:
        """Give `jid` the roster name `name` (empty: none), keeping its `groups`.

        Raises:
            TransportError: when the roster update fails.
        """
        await self._roster.rename_contact(jid, name, groups)

    def approve_contact(self, jid: str) -> None:
        """Allow `jid` to see our presence (answering its request), asking nothing back."""
        self._roster.approve_contact(jid)

    def deny_contact(self, jid: str) -> None:
        """Refuse (or revoke) `jid`'s permission to see our presence."""
        self._roster.deny_contact(jid)

    def presence_shows(self, jid: str) -> list[str]:
        """The `<show>` of each available resource of `jid` ("" for plain available)."""
        return self._roster.presence_shows(jid)

    def presence_status(self, jid: str) -> str:
        """The `<status>` text of `jid`'s most available resource ("" when none)."""
        return self._roster.presence_status(jid)

    def add_roster_listener(self, listener: Callable[[], None]) -> None:
        """Call `listener()` when the server pushes a roster change."""
        self._roster.add_roster_listener(listener)

    def add_subscription_request_listener(self, listener: Callable[[str], None]) -> None:
        """Call `listener(bare_jid)` when someone asks to see our presence."""
        self._roster.add_subscription_request_listener(listener)

    def add_status_listener(self, listener: Callable[[str], None]) -> None:
        """Call `listener(bare_jid)` whenever a contact's availability changes."""
        self._roster.add_status_listener(listener)

    def add_presence_listener(self, listener: Callable[[ET.Element], None]) -> None:
        """Call `listener(xml)` with every incoming `<presence>` (MUC occupants, errors)."""
        self._roster.add_presence_listener(listener)

    # --- incoming messages (inbound.Inbound) --------------------------------------------------

    def set_stanza_sink(self, sink: Callable[[Received], None] | None) -> None:
        """Hand every incoming message to `sink` as a `Received`, refused ones included;
        None drops them."""
        self._inbound.set_stanza_sink(sink)

    def set_acknowledgement_sink(self, sink: Callable[[Acknowledgement], None] | None) -> None:
        """Hand every incoming receipt and displayed marker to `sink` (issue 17)."""
        self._inbound.set_acknowledgement_sink(sink)

    def send_acknowledgement(
        self, to: str, kind: AckKind, message_id: str, *, id_prefix: str = ""
    ) -> None:
        """Send a receipt or displayed marker for `message_id` to `to`, unencrypted (its own
        stanza id starts with `id_prefix`).

        Raises:
            NotConnected: without a stream.
        """
        self._sender.send_stanza(build_acknowledgement(to, kind, message_id, id_prefix=id_prefix))

    def add_message_listener(self, listener: Callable[[ET.Element], None]) -> None:
        """Call `listener(xml)` with every incoming `<message>` as it arrived."""
        self._inbound.add_message_listener(listener)

    # --- chat states (chatstates.ChatStates) --------------------------------------------------

    def add_chat_state_listener(self, listener: Callable[[ChatStateNotice], None]) -> None:
        """Call `listener` with every chat state (XEP-0085) that arrives."""
        self._chat_states.add_listener(listener)

    def send_chat_state(self, to: str, state: str, *, groupchat: bool = False) -> None:
        """Send a chat state alone, unencrypted and never archived by us.

        Raises:
            NotConnected: without a session.
        """
        self._chat_states.send(to, state, groupchat=groupchat)

    @property
    def rejected_carbons(self) -> int:
        """Carbons refused because their wrapper did not come from our own bare JID."""
        return self._inbound.rejected_carbons

    @property
    def malformed_stanzas(self) -> int:
        """Messages refused for a malformed `<encrypted>`."""
        return self._inbound.malformed_stanzas
