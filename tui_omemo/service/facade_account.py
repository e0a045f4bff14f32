"""The account and settings part of `OmemoChatService`: settings, the account and our devices,
security events (`app_service.py` composes it with the other parts)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from tui_omemo.config import Settings
from tui_omemo.events import SecurityEvent, SecurityEventKind
from tui_omemo.model import Namespace
from tui_omemo.service.account import account_info, apply_change
from tui_omemo.service.api import AccountChange, AccountInfo, SecurityEventRaised
from tui_omemo.service.facade_base import FacadeParts
from tui_omemo.service.ports import TransportError
from tui_omemo.service.session import now_ms
from tui_omemo.service.social import PRESENCE_SETTINGS
from tui_omemo.service.trust import PendingEvent, from_ms, record_event, trust_mode_event
from tui_omemo.store import UnitOfWork

SETTINGS_KEY = "omemo_settings"
"""Where the settings are stored (the settings table)."""


class AccountFacade(FacadeParts):
    """Account, settings and the security timeline."""

    async def security_events(self, limit: int = 200) -> Sequence[SecurityEvent]:
        """The newest security events, newest first."""
        rows = await self._runner.read(lambda uow: uow.security_events.recent(limit))
        kinds = {kind.value for kind in SecurityEventKind}
        return [
            SecurityEvent(
                SecurityEventKind(row.kind)
                if row.kind in kinds
                else SecurityEventKind.DECRYPTION_FAILED,
                row.peer or "",
                row.device_id,
                str(row.detail.get("detail", row.kind)),
                from_ms(row.occurred_at),
            )
            for row in rows
        ]

    async def settings(self) -> Settings:
        """The current settings."""
        return self._settings

    async def update_setting(self, key: str, value: str) -> Settings:
        """Change one setting (raises ValueError). Protocol options apply after a restart."""
        updated = self._settings.with_value(key, value)
        changed = trust_mode_event(self._settings, updated, self.own_jid)
        now = now_ms()

        def write(uow: UnitOfWork) -> list[PendingEvent]:
            uow.settings.set(SETTINGS_KEY, updated.to_json())
            return [record_event(uow, event, now) for event in changed]

        changed = await self._runner.write(write)
        self._settings = updated
        if key in PRESENCE_SETTINGS:
            self.social.announce()
        for event in changed:
            self._events.put_nowait(SecurityEventRaised(event.public()))
        return updated

    async def account(self) -> AccountInfo:
        """The account, this device and our other devices (our device lists fetched again
        first; as stored when the server does not answer)."""
        with contextlib.suppress(TransportError):
            await self.refresh_device_list(self.own_jid)
        return await self._runner.read(account_info)

    async def update_account(self, change: AccountChange) -> AccountInfo:
        """Apply `change` (raises ValueError; nothing is changed then). A new password or
        server is used from the next start; a changed label is published at once."""
        await self._runner.write(lambda uow: apply_change(uow, change))
        if change.label is not None:
            with contextlib.suppress(TransportError):  # published again at the next login
                await self.session.publish_device_list(Namespace.V2)
        return await self._runner.read(account_info)
