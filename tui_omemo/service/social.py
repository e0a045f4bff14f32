"""Presence and subscriptions of one account (issue 17): our own availability and status
message, the contacts' status messages, and the requests to see our presence.

Our `show` and `status_message` are settings (`config.Settings`), so the Settings screen,
`tui-omemo settings`, `tui-omemo status` and `/status` all change the same stored value; the
service announces it after every login (`announce(changed=False)`: only when it is not plain
"online", which `go_online` already said) and whenever one of `PRESENCE_SETTINGS` changes.

Requests to see our presence are kept in memory only: the server delivers every unanswered one
again at the next login (RFC 6121 §3.1.3). A request is answered only by the user (allow, deny,
or allow and add the contact back); nothing is granted automatically.

The presence features are part of the `Transport` port (`service/ports.py`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from tui_omemo.config import Settings
from tui_omemo.service.ports import Transport, TransportError

PRESENCE_SETTINGS = frozenset({"show", "status_message"})
"""The settings whose change is announced at once."""


class Social:
    """Our presence and the subscription requests of one account, over its transport.

    Args:
        transport: the service's transport.
        settings: the current settings (where `show` and `status_message` live).
        changed: called with a bare JID whose roster row must be shown again.
    """

    def __init__(
        self, transport: Transport, settings: Callable[[], Settings], changed: Callable[[str], None]
    ) -> None:
        self._transport = transport
        self._settings = settings
        self._changed = changed
        self._requests: set[str] = set()
        transport.set_subscription_request_handler(self._requested)

    def _requested(self, jid: str) -> None:
        self._requests.add(jid)
        self._changed(jid)

    def asks(self, jid: str) -> bool:
        """Whether `jid` asked to see our presence and has no answer yet."""
        return jid in self._requests

    def requesters(self) -> frozenset[str]:
        """Everyone waiting for an answer."""
        return frozenset(self._requests)

    def status_text(self, jid: str) -> str:
        """A contact's status message as it sent it (peer text: the UI shows it as data)."""
        return self._transport.status_text(jid)

    def announce(self, *, changed: bool = True) -> None:
        """Tell contacts our availability and status message (after a login only when they
        are not the plain "online" the login announced). Offline: nothing to tell; the next
        login announces the stored value."""
        settings = self._settings()
        if not changed and settings.show == "online" and not settings.status_message:
            return
        show = "" if settings.show == "online" else settings.show
        with contextlib.suppress(TransportError):
            self._transport.announce(show, settings.status_message)

    def answer(self, jid: str, allow: bool) -> None:
        """Allow or refuse `jid`'s request.

        Raises:
            TransportError: not connected (the request stays open).
        """
        self._transport.answer_subscription(jid, allow)
        self._requests.discard(jid)

    def forget(self, jid: str) -> None:
        """The request was answered another way (the contact was added, which allows it)."""
        self._requests.discard(jid)
