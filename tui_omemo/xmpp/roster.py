"""`Roster`: the roster (RFC 6121) and presence of one `XmppClient`.

Presence subscriptions are never granted automatically: `add_contact` approves (or pre-approves)
the contact it adds; any other request is left for the user to decide (the subscription
listeners hear it). Every incoming `<presence>` also goes to the presence listeners as XML
(MUC occupants and errors, read by `rooms`).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from tui_omemo.model import bare_jid
from tui_omemo.xmpp.connection import Connection
from tui_omemo.xmpp.messages import CLIENT
from tui_omemo.xmpp.secure import SecureStream

ROSTER = "jabber:iq:roster"


@dataclass(frozen=True, slots=True)
class RosterEntry:
    """One roster item: bare JID, the name we gave it, the subscription state (`none`, `to`,
    `from`, `both`), its groups, and whether our request to see its presence is pending."""

    bare_jid: str
    name: str | None
    subscription: str
    groups: tuple[str, ...] = ()
    pending: bool = False


class Roster:
    """Roster and presence of one `XmppClient` (its `Connection`)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._subscription_listeners: list[Callable[[str], None]] = []
        self._status_listeners: list[Callable[[str], None]] = []
        self._roster_listeners: list[Callable[[], None]] = []
        self._presence_listeners: list[Callable[[ET.Element], None]] = []

    def setup(self, xmpp: SecureStream) -> None:
        """Hear the presences, subscription requests and roster pushes of a new stream."""
        xmpp.register_handler(
            Callback("tui-omemo presence", MatchXPath(f"{{{CLIENT}}}presence"), self._on_presence)
        )
        xmpp.add_event_handler("presence_subscribe", self._on_subscribe)
        xmpp.add_event_handler("changed_status", self._on_status)
        xmpp.add_event_handler("roster_update", self._on_roster_push)

    async def roster(self) -> list[RosterEntry]:
        """Our roster as the server has it.

        Raises:
            TransportError: on an error reply or a timeout.
        """
        result = await self._connection.request(
            "get", ET.Element(f"{{{ROSTER}}}query"), to=None, what="fetching the roster"
        )
        entries = []
        for item in result.iter(f"{{{ROSTER}}}item"):
            jid = item.get("jid")
            if jid:
                groups = tuple(group.text or "" for group in item.iter(f"{{{ROSTER}}}group"))
                entries.append(
                    RosterEntry(
                        bare_jid(jid),
                        item.get("name"),
                        item.get("subscription", "none"),
                        groups,
                        item.get("ask") == "subscribe",
                    )
                )
        return entries

    async def remove_contact(self, jid: str) -> None:
        """Remove `jid` from the roster; the server cancels both presence subscriptions.

        Raises:
            TransportError: when the roster update fails.
        """
        contact = bare_jid(jid)
        query = ET.Element(f"{{{ROSTER}}}query")
        ET.SubElement(query, f"{{{ROSTER}}}item", jid=contact, subscription="remove")
        await self._connection.request(
            "set", query, to=None, what=f"removing {contact} from the roster"
        )

    async def rename_contact(self, jid: str, name: str, groups: tuple[str, ...] = ()) -> None:
        """Give `jid` the roster name `name` (empty: none), keeping its `groups`.

        Raises:
            TransportError: when the roster update fails.
        """
        contact = bare_jid(jid)
        query = ET.Element(f"{{{ROSTER}}}query")
        item = ET.SubElement(query, f"{{{ROSTER}}}item", jid=contact)
        if name:
            item.set("name", name)
        for group in groups:
            ET.SubElement(item, f"{{{ROSTER}}}group").text = group
        await self._connection.request(
            "set", query, to=None, what=f"renaming {contact} in the roster"
        )

    def add_roster_listener(self, listener: Callable[[], None]) -> None:
        """Call `listener()` when the server pushes a roster change (a subscription answered,
        a contact added or removed elsewhere)."""
        self._roster_listeners.append(listener)

    def _on_roster_push(self, _iq: Any) -> None:
        for listener in self._roster_listeners:
            listener()

    async def add_contact(self, jid: str, name: str | None = None) -> None:
        """Add `jid` to the roster, allow it to see our presence (approval, or pre-approval
        when it has not asked yet) and ask to see its presence.

        Raises:
            TransportError: when the roster update fails.
        """
        contact = bare_jid(jid)
        query = ET.Element(f"{{{ROSTER}}}query")
        item = ET.SubElement(query, f"{{{ROSTER}}}item", jid=contact)
        if name:
            item.set("name", name)
        await self._connection.request(
            "set", query, to=None, what=f"adding {contact} to the roster"
        )
        xmpp = self._connection.live()
        xmpp.send_presence(pto=contact, ptype="subscribed")
        xmpp.send_presence(pto=contact, ptype="subscribe")

    def approve_contact(self, jid: str) -> None:
        """Allow `jid` to see our presence (answering its request), asking nothing back."""
        self._connection.live().send_presence(pto=bare_jid(jid), ptype="subscribed")

    def deny_contact(self, jid: str) -> None:
        """Refuse (or revoke) `jid`'s permission to see our presence."""
        self._connection.live().send_presence(pto=bare_jid(jid), ptype="unsubscribed")

    def add_subscription_request_listener(self, listener: Callable[[str], None]) -> None:
        """Call `listener(bare_jid)` when someone asks to see our presence. Nothing is granted
        automatically; answer with `add_contact` (approve) or `deny_contact`."""
        self._subscription_listeners.append(listener)

    def _on_subscribe(self, presence: Any) -> None:
        requester = bare_jid(str(presence["from"].bare))
        for listener in self._subscription_listeners:
            listener(requester)

    def presence_shows(self, jid: str) -> list[str]:
        """The `<show>` of each available resource of `jid` ("" for plain available); empty
        when none is available."""
        xmpp = self._connection.current_or_none()
        if xmpp is None:
            return []
        roster: Any = xmpp.client_roster
        resources: dict[str, Any] = roster.presence(bare_jid(jid)) or {}
        return [str(info.get("show") or "") for info in resources.values()]

    def presence_status(self, jid: str) -> str:
        """The `<status>` text of `jid`'s most available resource ("" when none)."""
        xmpp = self._connection.current_or_none()
        if xmpp is None:
            return ""
        roster: Any = xmpp.client_roster
        resources: dict[str, Any] = roster.presence(bare_jid(jid)) or {}
        ranked = sorted(resources.values(), key=lambda info: -int(info.get("priority") or 0))
        return next((str(info["status"]) for info in ranked if info.get("status")), "")

    def add_status_listener(self, listener: Callable[[str], None]) -> None:
        """Call `listener(bare_jid)` whenever a contact's availability changes."""
        self._status_listeners.append(listener)

    def _on_status(self, presence: Any) -> None:
        jid = bare_jid(str(presence["from"]))
        for listener in self._status_listeners:
            listener(jid)

    def add_presence_listener(self, listener: Callable[[ET.Element], None]) -> None:
        """Call `listener(xml)` with every incoming `<presence>` (MUC occupants, errors)."""
        self._presence_listeners.append(listener)

    def _on_presence(self, stanza: Any) -> None:
        for listener in self._presence_listeners:
            listener(stanza.xml)
