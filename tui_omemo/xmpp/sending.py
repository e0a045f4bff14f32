"""`Sender`: the messages and presences one `XmppClient` sends.

Everything goes out on the live stream only (`Connection.live`: while reconnecting a stanza is
refused with `NotConnected` rather than dropped by slixmpp without a word). A `<message>` is
handed to slixmpp as an empty stanza that adopts the children, so slixmpp builds no stanza
object per child nobody reads; `Outgoing.filter` writes it, serialized by `messages.serialize`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import slixmpp

from tui_omemo.model import ReplyRef, bare_jid
from tui_omemo.protocol.elements import EncryptedElement
from tui_omemo.xmpp.chat_state_element import add_chat_state
from tui_omemo.xmpp.connection import Connection
from tui_omemo.xmpp.messages import CLIENT, SID, build_encrypted_message, new_message_id
from tui_omemo.xmpp.receipts import add_requests


class Sender:
    """What one `XmppClient` (its `Connection`) sends."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

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
        stanza) to `to`, a correction of the message `replaces` when given, with the chat
        state `chat_state` (`messages.build_encrypted_message`); returns the message id
        (also the origin-id).

        Raises:
            NotConnected: without a session.
        """
        element = build_encrypted_message(
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
        self.send_stanza(element)
        return str(element.get("id"))

    def send_plaintext(
        self,
        to: str,
        body: str,
        *,
        message_type: str = "chat",
        message_id: str | None = None,
        chat_state: str | None = None,
    ) -> str:
        """Send an unencrypted message (only for chats the user chose not to encrypt), with
        the chat state `chat_state` when given; returns the message id, also sent as
        origin-id.

        Raises:
            NotConnected: without a session.
        """
        message_id = message_id or new_message_id()
        element = ET.Element(f"{{{CLIENT}}}message", to=to, type=message_type, id=message_id)
        ET.SubElement(element, f"{{{CLIENT}}}body").text = body
        ET.SubElement(element, f"{{{SID}}}origin-id", id=message_id)
        add_chat_state(element, chat_state)
        add_requests(element)
        self.send_stanza(element)
        return message_id

    def send_invitation(self, to: str, room: str) -> None:
        """Invite `to` into `room` directly (XEP-0249).

        Raises:
            NotConnected: without a stream.
        """
        plugins: Any = self._connection.live().plugin
        plugins["xep_0249"].send_invitation(slixmpp.JID(bare_jid(to)), slixmpp.JID(bare_jid(room)))

    def send_stanza(self, element: ET.Element) -> None:
        """Send a `<message>` or `<presence>` built by `xmpp/` (groupchat messages, MUC
        presences, subject changes).

        Raises:
            NotConnected: without a stream.
            ValueError: for any other element.
        """
        xmpp = self._connection.live()
        if element.tag == f"{{{CLIENT}}}presence":
            slixmpp.Presence(xmpp, xml=element).send()
            return
        if element.tag != f"{{{CLIENT}}}message":
            raise ValueError(f"not a message or presence: {element.tag}")
        # An empty Message that adopts the children: slixmpp would build a stanza object for
        # every child it knows (8 for an OMEMO 2 <encrypted>) that nobody reads. It still
        # goes through the send queue and stream management; `Outgoing.filter` writes it.
        message = slixmpp.Message(xmpp)  # type: ignore[no-untyped-call]
        for key, value in element.attrib.items():
            message.xml.set(key, value)
        message.xml.text = element.text
        message.xml.extend(element)
        self._connection.outgoing.write_own(message)
        message.send()
