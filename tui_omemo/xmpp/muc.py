"""XEP-0045 group chats, the part OMEMO needs: join, learn the occupants' real JIDs, configure
a new room as OMEMO-capable (members-only and non-anonymous).

Pure functions on `xml.etree.ElementTree` elements; `XmppClient` sends and receives them.
OMEMO in a room encrypts for every member's devices, so it needs the members' real bare JIDs,
which only a non-anonymous room reveals (`muc#roomconfig_whois = anyone`).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from tui_omemo.model import bare_jid
from tui_omemo.service.ports import OMEMO_ROOM_CONFIG, Occupant

__all__ = ["OMEMO_ROOM_CONFIG", "Occupant"]  # the port's values, where they used to be
from tui_omemo.xmpp.messages import CLIENT

MUC = "http://jabber.org/protocol/muc"
MUC_USER = f"{MUC}#user"
MUC_OWNER = f"{MUC}#owner"
MUC_ADMIN = f"{MUC}#admin"
DATA_FORMS = "jabber:x:data"
STATUS_SELF = "110"
STATUS_CREATED = "201"
STATUS_NON_ANONYMOUS = "100"


def build_join(room: str, nick: str, *, history_stanzas: int = 0) -> ET.Element:
    """The presence that joins `room` as `nick`, asking for `history_stanzas` of history
    (0 by default: history comes through MAM, which has ids to de-duplicate on)."""
    presence = ET.Element(f"{{{CLIENT}}}presence", to=f"{bare_jid(room)}/{nick}")
    muc = ET.SubElement(presence, f"{{{MUC}}}x")
    ET.SubElement(muc, f"{{{MUC}}}history", maxstanzas=str(history_stanzas))
    return presence


def build_leave(room: str, nick: str) -> ET.Element:
    """The presence that leaves `room`."""
    return ET.Element(f"{{{CLIENT}}}presence", to=f"{bare_jid(room)}/{nick}", type="unavailable")


def read_occupant(presence: ET.Element) -> Occupant | None:
    """The occupant a room presence describes, or None for presences that are not MUC ones."""
    sender = presence.get("from", "")
    user = presence.find(f"{{{MUC_USER}}}x")
    if user is None or "/" not in sender:
        return None
    room, nick = sender.split("/", 1)
    item = user.find(f"{{{MUC_USER}}}item")
    codes = frozenset(
        code for status in user.findall(f"{{{MUC_USER}}}status") if (code := status.get("code"))
    )
    real = item.get("jid") if item is not None else None
    return Occupant(
        room=bare_jid(room),
        nick=nick,
        real_jid=bare_jid(real) if real else None,
        affiliation=item.get("affiliation", "none") if item is not None else "none",
        role=item.get("role", "none") if item is not None else "none",
        available=presence.get("type") != "unavailable",
        is_self=STATUS_SELF in codes,
        status_codes=codes,
    )


def build_room_config(fields: dict[str, str]) -> ET.Element:
    """The owner `<query>` submitting a room configuration form (XEP-0045 §10.1)."""
    query = ET.Element(f"{{{MUC_OWNER}}}query")
    form = ET.SubElement(query, f"{{{DATA_FORMS}}}x", type="submit")
    field = ET.SubElement(form, f"{{{DATA_FORMS}}}field", var="FORM_TYPE")
    ET.SubElement(field, f"{{{DATA_FORMS}}}value").text = f"{MUC}#roomconfig"
    for var, value in fields.items():
        field = ET.SubElement(form, f"{{{DATA_FORMS}}}field", var=var)
        ET.SubElement(field, f"{{{DATA_FORMS}}}value").text = value
    return query


def build_member_grant(member: str) -> ET.Element:
    """The admin `<query>` that makes `member` a member (needed in members-only rooms)."""
    query = ET.Element(f"{{{MUC_ADMIN}}}query")
    ET.SubElement(query, f"{{{MUC_ADMIN}}}item", jid=bare_jid(member), affiliation="member")
    return query
