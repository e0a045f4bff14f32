"""Chat state notifications (XEP-0085, issue 17) of one `XmppClient`, with slixmpp's
`xep_0085` plugin: it shapes the elements and announces the feature in service discovery.

Only a state at the top level of a `<message>` counts (the plugin's handler matches
`message/chat_state`): a state inside a carbon or an archive result is another device's or an
old one, never shown. Error messages are dropped. Outgoing states go as a `<message>` of their
own with nothing but the state (no body, no id to archive), outside any encryption as every
OMEMO client sends them: they carry no content. The `<active/>` a message of ours carries is
put into that message by `chat_state_element.add_chat_state`. Nothing here is stored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slixmpp.plugins.xep_0085 import ChatState

from tui_omemo.xmpp.connection import Connection
from tui_omemo.xmpp.secure import SecureStream

log = logging.getLogger(__name__)

STATES = frozenset(ChatState.states)
"""active, composing, paused, inactive, gone."""


@dataclass(frozen=True)
class ChatStateNotice:
    """A chat state as it arrived: `sender` is the full `from` (a room occupant's is
    room@service/nick), `message_type` the `<message>` type."""

    sender: str
    message_type: str
    state: str


class ChatStates:
    """The chat states of one client's streams."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._listeners: list[Callable[[ChatStateNotice], None]] = []

    def setup(self, xmpp: SecureStream) -> None:
        """Load the plugin on a new stream and hear its states."""
        xmpp.register_plugin("xep_0085")
        xmpp.add_event_handler("chatstate", self._on_state)

    def add_listener(self, listener: Callable[[ChatStateNotice], None]) -> None:
        """Call `listener` with every chat state that arrives."""
        self._listeners.append(listener)

    def _on_state(self, message: Any) -> None:
        message_type = message["type"]
        state = message["chat_state"]
        if message_type == "error" or state not in STATES:
            return
        notice = ChatStateNotice(message["from"].full, message_type, state)
        for listener in self._listeners:
            listener(notice)

    def send(self, to: str, state: str, *, groupchat: bool = False) -> None:
        """Send `state` to `to` (a room's bare JID with `groupchat`).

        Raises:
            NotConnected: without a stream.
            ValueError: for a state XEP-0085 does not define.
        """
        if state not in STATES:
            raise ValueError(f"not a chat state: {state}")
        xmpp = self._connection.live()
        message = xmpp.make_message(mto=to, mtype="groupchat" if groupchat else "chat")
        message["chat_state"] = state
        message.send()
