"""What the parts of `OmemoChatService` share: the collaborators the constructor wires, and the
two methods one part calls in another.

`OmemoChatService` (`app_service.py`: construction, lifetime, connection changes) is composed
of the parts by concern: chats and contacts (`facade_chats.py`), devices and trust
(`facade_devices.py`), group chats (`facade_rooms.py`), account and settings
(`facade_account.py`). Each part derives from `FacadeParts`, which names the attributes the
constructor sets, so that every part is type-checked on its own.
"""

from __future__ import annotations

import asyncio

from tui_omemo.config import Settings
from tui_omemo.protocol.engine import Engine
from tui_omemo.service.api import ServiceEvent
from tui_omemo.service.contacts import Contacts
from tui_omemo.service.directory import CachingDirectory
from tui_omemo.service.muc import GroupChats
from tui_omemo.service.ports import Transport
from tui_omemo.service.receipts import Receipts
from tui_omemo.service.runner import DbRunner
from tui_omemo.service.session import Session
from tui_omemo.service.social import Social


class FacadeParts:
    """The attributes `OmemoChatService.__init__` sets, and the cross-part methods."""

    _runner: DbRunner
    _transport: Transport
    _engine: Engine
    _directory: CachingDirectory
    _settings: Settings
    _events: asyncio.Queue[ServiceEvent]
    _contacts: Contacts
    groups: GroupChats | None
    session: Session
    social: Social
    receipts: Receipts

    @property
    def own_jid(self) -> str:
        """The account's bare JID."""
        return self._engine.own_bare_jid

    async def _roster_changed(self, jid: str) -> None:
        """Emit one chat's fresh summary (`facade_chats.ChatsFacade`)."""
        raise NotImplementedError

    async def refresh_device_list(self, bare_jid_: str) -> None:
        """Fetch a contact's device lists again (`facade_devices.DevicesFacade`)."""
        raise NotImplementedError
