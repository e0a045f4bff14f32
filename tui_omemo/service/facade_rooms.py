"""The group-chat part of `OmemoChatService`: the room methods, delegated to the group-chat
component (`service.muc.GroupChats`) when a `RoomTransport` was handed in
(`app_service.py` composes it with the other parts)."""

from __future__ import annotations

from tui_omemo.model import Namespace, bare_jid
from tui_omemo.service.api import RoomInfo, SendReport
from tui_omemo.service.facade_base import FacadeParts
from tui_omemo.service.muc import GroupChats

GROUPS = "group chats need a room transport; none was handed to this service"


class RoomsFacade(FacadeParts):
    """Group chats: each room method delegates to `GroupChats` (NotImplementedError without)."""

    def _groups(self) -> GroupChats:
        if self.groups is None:
            raise NotImplementedError(GROUPS)
        return self.groups

    async def join_room(self, room: str, nick: str) -> RoomInfo:
        """Join (and bookmark) a room; its OMEMO gate and member readiness.

        Raises:
            TransportError: the room refused us or did not answer.
            NotImplementedError: the transport has no client (no group chats).
        """
        return await self._groups().join_room(room, nick)

    async def leave_room(self, room: str) -> None:
        """Leave a room and drop its bookmark (its archive and choices stay)."""
        await self._groups().leave_room(room)

    async def invite(self, room: str, bare_jid_: str) -> bool:
        """Invite a contact into a joined room (`GroupChats.invite`); a new member changes
        the room's roster row (a RosterChanged follows)."""
        granted = await self._groups().invite(room, bare_jid(bare_jid_))
        await self._roster_changed(bare_jid(room))
        return granted

    async def room_info(self, room: str) -> RoomInfo:
        """A joined room's gate and members (raises KeyError when it is not joined)."""
        return await self._groups().room_info(room)

    async def send_to_room(
        self, room: str, text: str, *, allow_plaintext: bool = False, allow_partial: bool = False
    ) -> SendReport:
        """Encrypt for every member and send to a joined room (`GroupChats.send_to_room`).

        Raises:
            KeyError: the room is not joined.
            SendFailed: nothing was sent; the report lists who was skipped and why.
        """
        return await self._groups().send_to_room(
            room, text, allow_plaintext=allow_plaintext, allow_partial=allow_partial
        )

    async def set_partial_choice(self, room: str, allowed: bool) -> None:
        """Remember whether sends to `room` may skip members without a usable device."""
        await self._groups().set_partial_choice(room, allowed)

    async def set_room_version(self, room: str, version: Namespace | None) -> None:
        """Force an OMEMO version for one room (None: automatic)."""
        await self._groups().set_room_version(room, version)
