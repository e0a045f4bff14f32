"""`RoomClient`: the group-chat (XEP-0045) side of an `XmppClient`, the service's
`RoomTransport` port (`service/ports.py`), implemented directly with the port's values.

The service's transport (`xmpp.transport.XmppTransport`) hands every `<message>` of the
client to the service as an `Inbound`, groupchat ones included. This class sits beside it on the
same `XmppClient` (its raw presence and message listeners, `send_stanza`, `request` and
`query_archive`) and adds what rooms need and messages alone do not carry:

* joining and leaving (`xmpp/muc.py` builds the presences), our nick per room;
* the occupants with their real JIDs, affiliations and roles, kept from the room's presences,
  and the room's subject; listeners hear about every change (occupants and affiliations);
* the room's disco#info features (`muc_nonanonymous`, `muc_membersonly`: the OMEMO gate);
* the member, admin and owner lists (XEP-0045 §9.5: members-only non-anonymous rooms give
  them to members too), room configuration and member grants (owners/admins);
* sending groupchat messages (`<encrypted>` or an explicitly chosen plaintext body);
* MUC MAM queries on the room (`XmppClient.query_archive`: each with a random queryid; only
  results of an open query coming from that room are accepted);
* bookmarks: XEP-0402, falling back to XEP-0048 in private storage (`xmpp/bookmarks.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import xml.etree.ElementTree as ET
from datetime import datetime

from tui_omemo.model import ReplyRef, bare_jid
from tui_omemo.protocol.elements import EncryptedElement
from tui_omemo.service.ports import (
    AFFILIATIONS_WITH_KEYS,
    Envelope,
    MamPage,
    Occupant,
    RoomFeatures,
    RoomListener,
)
from tui_omemo.xmpp.bookmarks import (
    BOOKMARKS2,
    BOOKMARKS2_OPTIONS,
    Bookmark,
    build_conference,
    build_legacy_request,
    build_legacy_storage,
    read_conference,
    read_legacy_storage,
)
from tui_omemo.xmpp.client import XmppClient
from tui_omemo.xmpp.errors import ArchiveQueryFailed, TransportError
from tui_omemo.xmpp.messages import CLIENT
from tui_omemo.xmpp.muc import (
    MUC_ADMIN,
    MUC_USER,
    STATUS_CREATED,
    build_join,
    build_leave,
    build_member_grant,
    build_room_config,
    read_occupant,
)
from tui_omemo.xmpp.transport import archived_inbound, build_envelope, parse_envelope

log = logging.getLogger(__name__)

DISCO_INFO = "http://jabber.org/protocol/disco#info"
PUBSUB = "http://jabber.org/protocol/pubsub"
DATA_FORMS = "jabber:x:data"
PUBLISH_OPTIONS = f"{PUBSUB}#publish-options"
REQUEST_TIMEOUT = 20.0
__all__ = ["AFFILIATIONS_WITH_KEYS", "RoomClient", "RoomFeatures", "RoomListener"]


class RoomClient:
    """Group chats on an `XmppClient` (see the module docstring).

    Args:
        client: the client the transport also uses; this object adds a presence and a
            message listener to it.
    """

    def __init__(self, client: XmppClient) -> None:
        self._client = client
        self._joins: dict[str, asyncio.Future[Occupant]] = {}
        self._occupants: dict[str, dict[str, Occupant]] = {}
        self._nicks: dict[str, str] = {}
        self._subjects: dict[str, str] = {}
        self._listeners: list[RoomListener] = []
        self._affiliation_news: set[str] = set()
        client.add_presence_listener(self._on_presence)
        client.add_message_listener(self._on_message)

    @property
    def own_bare_jid(self) -> str:
        """Our bare JID."""
        return self._client.bare_jid

    @property
    def rejected_archive_results(self) -> int:
        """Archive results the client refused (forged, unsolicited or malformed)."""
        return self._client.rejected_archive_results

    def add_listener(self, listener: RoomListener) -> None:
        """Call `listener(room)` whenever a joined room's occupants, affiliations or subject
        change."""
        self._listeners.append(listener)

    def _changed(self, room: str) -> None:
        for listener in self._listeners:
            listener(room)

    # --- joining ---------------------------------------------------------------------------

    def joined(self, room: str) -> bool:
        """True while we are in `room`."""
        return bare_jid(room) in self._nicks

    def nick(self, room: str) -> str | None:
        """Our nickname in a joined room."""
        return self._nicks.get(bare_jid(room))

    def joined_rooms(self) -> list[str]:
        """The rooms we are in."""
        return sorted(self._nicks)

    async def join(
        self,
        room: str,
        nick: str,
        *,
        configure_new: dict[str, str] | None = None,
        within: float = REQUEST_TIMEOUT,
    ) -> Occupant:
        """Join `room` as `nick` (no discussion history: MUC MAM has ids to de-duplicate on).

        Args:
            room: the room's bare JID.
            nick: our nickname.
            configure_new: when the room did not exist (status 201), submit this
                configuration (e.g. `OMEMO_ROOM_CONFIG`: members-only, non-anonymous,
                persistent), which also unlocks it.
            within: seconds to wait for the room's answer.

        Returns:
            Our own occupant entry.

        Raises:
            TransportError: the room refused us (the reason is in the message) or was silent.
        """
        room = bare_jid(room)
        joined: asyncio.Future[Occupant] = asyncio.get_running_loop().create_future()
        self._joins[room] = joined
        self._occupants[room] = {}
        self._client.send_stanza(build_join(room, nick))
        try:
            own = await asyncio.wait_for(joined, within)
        except TimeoutError as error:
            self._occupants.pop(room, None)
            raise TransportError(f"no answer from {room} in time") from error
        except TransportError:
            self._occupants.pop(room, None)
            raise
        finally:
            self._joins.pop(room, None)
        self._nicks[room] = own.nick
        if STATUS_CREATED in own.status_codes and configure_new is not None:
            await self.configure(room, configure_new)
        return own

    def leave(self, room: str) -> None:
        """Leave `room` (nothing happens when we are not in it)."""
        room = bare_jid(room)
        nick = self._nicks.pop(room, None)
        self._occupants.pop(room, None)
        if nick is not None:
            self._client.send_stanza(build_leave(room, nick))

    def occupants(self, room: str) -> dict[str, Occupant]:
        """The present occupants of a joined room by nickname (a copy)."""
        return dict(self._occupants.get(bare_jid(room), {}))

    def real_jid(self, room: str, nick: str) -> str | None:
        """The real bare JID behind an occupant nickname, when the room told us."""
        occupant = self._occupants.get(bare_jid(room), {}).get(nick)
        return None if occupant is None else occupant.real_jid

    def subject(self, room: str) -> str:
        """The room's subject as last announced ("" when none)."""
        return self._subjects.get(bare_jid(room), "")

    def _on_presence(self, xml: ET.Element) -> None:
        room = bare_jid(xml.get("from", ""))
        pending = self._joins.get(room)
        if xml.get("type") == "error":
            if pending is not None and not pending.done():
                pending.set_exception(
                    TransportError(f"{room} refused to let us join: {_error_condition(xml)}")
                )
            return
        occupant = read_occupant(xml)
        if occupant is None or occupant.room not in self._occupants:
            return
        if occupant.available:
            self._occupants[occupant.room][occupant.nick] = occupant
        else:
            self._occupants[occupant.room].pop(occupant.nick, None)
        if occupant.is_self and pending is not None and not pending.done():
            pending.set_result(occupant)
        elif occupant.is_self and not occupant.available:
            self._nicks.pop(occupant.room, None)  # kicked, banned or room destroyed
        self._changed(occupant.room)

    def _on_message(self, xml: ET.Element) -> None:
        room = bare_jid(xml.get("from", ""))
        if room not in self._occupants or xml.get("type") == "error":
            return
        subject = xml.find(f"{{{CLIENT}}}subject")
        if subject is not None and xml.get("type") == "groupchat":
            self._subjects[room] = subject.text or ""
            self._changed(room)
        elif xml.find(f"{{{MUC_USER}}}x/{{{MUC_USER}}}item") is not None and "/" not in xml.get(
            "from", ""
        ):
            self._affiliation_news.add(room)  # someone absent changed (XEP-0045 §9.3)
            self._changed(room)

    def affiliations_changed(self, room: str) -> bool:
        """True once after the room told us an absent user's affiliation changed."""
        room = bare_jid(room)
        news = room in self._affiliation_news
        self._affiliation_news.discard(room)
        return news

    # --- room facts -----------------------------------------------------------------------

    async def features(self, room: str) -> RoomFeatures:
        """The room's disco#info.

        Raises:
            TransportError: no answer or an error reply.
        """
        result = await self._client.request(
            "get",
            ET.Element(f"{{{DISCO_INFO}}}query"),
            to=bare_jid(room),
            what=f"disco#info of {room}",
        )
        features = frozenset(
            var
            for feature in result.iter(f"{{{DISCO_INFO}}}feature")
            if (var := feature.get("var"))
        )
        identity = result.find(f"{{{DISCO_INFO}}}query/{{{DISCO_INFO}}}identity")
        return RoomFeatures(features, identity.get("name") if identity is not None else None)

    async def affiliated(self, room: str, affiliation: str) -> list[str]:
        """The real bare JIDs with `affiliation` (owner, admin, member, outcast).

        Raises:
            TransportError: the room refused (we may not see that list) or was silent.
        """
        query = ET.Element(f"{{{MUC_ADMIN}}}query")
        ET.SubElement(query, f"{{{MUC_ADMIN}}}item", affiliation=affiliation)
        result = await self._client.request(
            "get", query, to=bare_jid(room), what=f"the {affiliation} list of {room}"
        )
        return sorted(
            {
                bare_jid(jid)
                for item in result.iter(f"{{{MUC_ADMIN}}}item")
                if (jid := item.get("jid"))
            }
        )

    async def configure(self, room: str, fields: dict[str, str]) -> None:
        """Submit room configuration fields (owners only).

        Raises:
            TransportError: the room refused.
        """
        await self._client.request(
            "set", build_room_config(fields), to=bare_jid(room), what=f"configuring {room}"
        )

    async def grant_membership(self, room: str, member: str) -> None:
        """Make `member` a member of `room` (admins and owners only).

        Raises:
            TransportError: the room refused.
        """
        await self._client.request(
            "set",
            build_member_grant(member),
            to=bare_jid(room),
            what=f"adding {bare_jid(member)} to {room}",
        )

    def invite(self, room: str, contact: str) -> None:
        """Send `contact` a direct invitation into `room` (XEP-0249)."""
        self._client.send_invitation(contact, room)

    def own_affiliation(self, room: str) -> str:
        """Our affiliation in a joined room (`none` when the room has not told us)."""
        own = next((o for o in self._occupants.get(bare_jid(room), {}).values() if o.is_self), None)
        return own.affiliation if own is not None else "none"

    # --- messages ---------------------------------------------------------------------------

    def send_encrypted(
        self,
        room: str,
        encrypted: EncryptedElement,
        message_id: str,
        body_hint: str | None = None,
        *,
        replaces: str | None = None,
        reply: ReplyRef | None = None,
        chat_state: str | None = None,
    ) -> None:
        """Send one `<encrypted>` to the room (type groupchat; the id is also the origin-id;
        `<replace>` and `<reply>` go outside only next to a 0.3 `<encrypted>`, the chat state
        `chat_state` outside it in both versions)."""
        self._client.send_encrypted(
            encrypted,
            bare_jid(room),
            message_type="groupchat",
            message_id=message_id,
            body_hint=body_hint,
            replaces=replaces,
            reply=reply,
            chat_state=chat_state,
        )

    def send_plaintext(
        self, room: str, body: str, message_id: str, chat_state: str | None = None
    ) -> None:
        """Send an unencrypted groupchat message (only after the user chose it)."""
        self._client.send_plaintext(
            bare_jid(room),
            body,
            message_type="groupchat",
            message_id=message_id,
            chat_state=chat_state,
        )

    def archive_query_open(self, query_id: str) -> bool:
        """True while `query_id` is one of the client's open archive queries."""
        return self._client.archive_query_open(query_id)

    def set_subject(self, room: str, subject: str) -> None:
        """Change the room's subject (the room may refuse: moderators only, by default)."""
        element = ET.Element(f"{{{CLIENT}}}message", to=bare_jid(room), type="groupchat")
        ET.SubElement(element, f"{{{CLIENT}}}subject").text = subject
        self._client.send_stanza(element)

    async def query_archive(
        self,
        room: str,
        *,
        after: str | None = None,
        start: datetime | None = None,
        max_results: int = 25,
        last_page: bool = False,
    ) -> MamPage:
        """One page of the room's MAM archive, through a query opened here: only results
        carrying its random queryid and coming from the room itself are kept
        (`xmpp/mam.read_result`); forged or malformed ones are dropped and counted in
        `rejected_archive_results`. Each result is an `Inbound` as the inbox keeps it.

        Raises:
            TransportError: an error reply or no answer.
        """
        room = bare_jid(room)
        try:
            page = await self._client.query_archive(
                archive=room,
                after=after,
                start=start,
                max_results=max_results,
                last_page=last_page,
                within=60,
            )
        except ArchiveQueryFailed as error:
            raise TransportError(f"the archive of {room}: {error}") from error
        own = self.own_bare_jid
        inbounds = [archived_inbound(archived, room, own) for archived in page.messages]
        return MamPage(inbounds, page.last, page.complete)

    # --- SCE ------------------------------------------------------------------------------

    def build_envelope(
        self,
        body: str,
        to: str,
        sender: str,
        replaces: str | None = None,
        reply: ReplyRef | None = None,
    ) -> bytes:
        """An SCE envelope (xmpp/xep_0420) with `rpad`, `time`, `to` and `from`."""
        return build_envelope(body, to, sender, replaces, reply)

    def parse_envelope(self, data: bytes) -> Envelope:
        """Read an SCE envelope (raises ValueError when it is not one)."""
        return parse_envelope(data)

    # --- bookmarks --------------------------------------------------------------------------

    async def bookmarks(self) -> list[Bookmark]:
        """Our bookmarks: XEP-0402, else XEP-0048 from private storage.

        Raises:
            TransportError: neither store answered.
        """
        pubsub = ET.Element(f"{{{PUBSUB}}}pubsub")
        ET.SubElement(pubsub, f"{{{PUBSUB}}}items", node=BOOKMARKS2)
        native: list[Bookmark] = []
        try:
            result = await self._client.request("get", pubsub, to=None, what="bookmarks")
            for item in result.iter(f"{{{PUBSUB}}}item"):
                conference = item.find(f"{{{BOOKMARKS2}}}conference")
                if conference is not None:
                    bookmark = read_conference(item.get("id", ""), conference)
                    if bookmark is not None:
                        native.append(bookmark)
        except TransportError as error:
            log.info("no XEP-0402 bookmarks (%s); reading XEP-0048", error)
        legacy = await self._legacy_bookmarks()
        rooms = {bookmark.room for bookmark in native}
        return native + [bookmark for bookmark in legacy if bookmark.room not in rooms]

    async def _legacy_bookmarks(self) -> list[Bookmark]:
        try:
            return read_legacy_storage(
                await self._client.request(
                    "get", build_legacy_request(), to=None, what="XEP-0048 bookmarks"
                )
            )
        except TransportError:
            return []

    async def add_bookmark(self, bookmark: Bookmark) -> None:
        """Store a bookmark (XEP-0402; XEP-0048 when the server refuses that).

        Raises:
            TransportError: neither store accepted it.
        """
        pubsub = ET.Element(f"{{{PUBSUB}}}pubsub")
        publish = ET.SubElement(pubsub, f"{{{PUBSUB}}}publish", node=BOOKMARKS2)
        item = ET.SubElement(publish, f"{{{PUBSUB}}}item", id=bookmark.room)
        item.append(build_conference(bookmark))
        pubsub.append(_publish_options(BOOKMARKS2_OPTIONS))
        try:
            await self._client.request("set", pubsub, to=None, what="publishing a bookmark")
            return
        except TransportError as error:
            log.info("XEP-0402 bookmark refused (%s); using XEP-0048", error)
        legacy = [b for b in await self._legacy_bookmarks() if b.room != bookmark.room]
        await self._store_legacy([*legacy, bookmark])

    async def remove_bookmark(self, room: str) -> None:
        """Forget a room's bookmark in both stores (missing ones are fine)."""
        room = bare_jid(room)
        pubsub = ET.Element(f"{{{PUBSUB}}}pubsub")
        retract = ET.SubElement(pubsub, f"{{{PUBSUB}}}retract", node=BOOKMARKS2, notify="true")
        ET.SubElement(retract, f"{{{PUBSUB}}}item", id=room)
        with contextlib.suppress(TransportError):
            await self._client.request("set", pubsub, to=None, what="retracting a bookmark")
        legacy = await self._legacy_bookmarks()
        if any(bookmark.room == room for bookmark in legacy):
            await self._store_legacy([b for b in legacy if b.room != room])

    async def _store_legacy(self, bookmarks: list[Bookmark]) -> None:
        await self._client.request(
            "set", build_legacy_storage(bookmarks), to=None, what="storing XEP-0048 bookmarks"
        )


def _publish_options(fields: dict[str, str]) -> ET.Element:
    options = ET.Element(f"{{{PUBSUB}}}publish-options")
    form = ET.SubElement(options, f"{{{DATA_FORMS}}}x", type="submit")
    field = ET.SubElement(form, f"{{{DATA_FORMS}}}field", var="FORM_TYPE", type="hidden")
    ET.SubElement(field, f"{{{DATA_FORMS}}}value").text = PUBLISH_OPTIONS
    for var, value in fields.items():
        field = ET.SubElement(form, f"{{{DATA_FORMS}}}field", var=var)
        ET.SubElement(field, f"{{{DATA_FORMS}}}value").text = value
    return options


def _error_condition(stanza: ET.Element) -> str:
    error = stanza.find(f"{{{CLIENT}}}error")
    if error is None:
        return "error"
    for child in error:
        if child.tag.endswith("}text"):
            continue
        return child.tag.rpartition("}")[2]
    return "error"
