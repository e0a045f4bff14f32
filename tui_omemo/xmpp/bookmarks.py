"""Room bookmarks: XEP-0402 (PEP native bookmarks), falling back to XEP-0048 (private storage).

Pure functions on `xml.etree.ElementTree` elements; `xmpp.rooms.RoomClient` does the I/O.
XEP-0402 keeps one PEP item per room (item id = the room's bare JID) in the node
`urn:xmpp:bookmarks:1`, published with `pubsub#access_model = whitelist` so only we can read
it. Servers without it still offer XEP-0048 inside XEP-0049 private XML storage: one
`<storage xmlns='storage:bookmarks'>` holding every `<conference>`, rewritten as a whole.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from tui_omemo.model import bare_jid
from tui_omemo.service.ports import Bookmark

__all__ = ["Bookmark"]  # the port's value, where it used to be

BOOKMARKS2 = "urn:xmpp:bookmarks:1"
BOOKMARKS_LEGACY = "storage:bookmarks"
PRIVATE = "jabber:iq:private"
BOOKMARKS2_OPTIONS = {
    "pubsub#persist_items": "true",
    "pubsub#max_items": "max",
    "pubsub#send_last_published_item": "never",
    "pubsub#access_model": "whitelist",
}
"""The publish-options XEP-0402 §3.2 requires."""


def _truthy(text: str | None) -> bool:
    return (text or "").strip().lower() in {"true", "1"}


def build_conference(bookmark: Bookmark) -> ET.Element:
    """The XEP-0402 `<conference>` payload of one PEP item (its item id is the room)."""
    conference = ET.Element(
        f"{{{BOOKMARKS2}}}conference", autojoin="true" if bookmark.autojoin else "false"
    )
    if bookmark.name:
        conference.set("name", bookmark.name)
    if bookmark.nick:
        ET.SubElement(conference, f"{{{BOOKMARKS2}}}nick").text = bookmark.nick
    return conference


def read_conference(item_id: str, conference: ET.Element) -> Bookmark | None:
    """A XEP-0402 item as a bookmark; None when the item id is no room JID."""
    if "@" not in item_id or "/" in item_id:
        return None
    nick = conference.find(f"{{{BOOKMARKS2}}}nick")
    return Bookmark(
        bare_jid(item_id),
        nick.text if nick is not None and nick.text else None,
        _truthy(conference.get("autojoin")),
        conference.get("name") or None,
    )


def build_legacy_storage(bookmarks: list[Bookmark]) -> ET.Element:
    """The XEP-0049 `<query>` storing every bookmark in XEP-0048 form."""
    query = ET.Element(f"{{{PRIVATE}}}query")
    storage = ET.SubElement(query, f"{{{BOOKMARKS_LEGACY}}}storage")
    for bookmark in bookmarks:
        conference = ET.SubElement(
            storage,
            f"{{{BOOKMARKS_LEGACY}}}conference",
            jid=bookmark.room,
            autojoin="true" if bookmark.autojoin else "false",
        )
        if bookmark.name:
            conference.set("name", bookmark.name)
        if bookmark.nick:
            ET.SubElement(conference, f"{{{BOOKMARKS_LEGACY}}}nick").text = bookmark.nick
    return query


def build_legacy_request() -> ET.Element:
    """The XEP-0049 `<query>` asking for our XEP-0048 bookmarks."""
    query = ET.Element(f"{{{PRIVATE}}}query")
    ET.SubElement(query, f"{{{BOOKMARKS_LEGACY}}}storage")
    return query


def read_legacy_storage(element: ET.Element) -> list[Bookmark]:
    """Every `<conference>` under a XEP-0048 `<storage>` (anywhere below `element`)."""
    bookmarks = []
    for conference in element.iter(f"{{{BOOKMARKS_LEGACY}}}conference"):
        room = conference.get("jid", "")
        if "@" not in room:
            continue
        nick = conference.find(f"{{{BOOKMARKS_LEGACY}}}nick")
        bookmarks.append(
            Bookmark(
                bare_jid(room),
                nick.text if nick is not None and nick.text else None,
                _truthy(conference.get("autojoin")),
                conference.get("name") or None,
            )
        )
    return bookmarks
