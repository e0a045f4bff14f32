"""The room send policy of the outbound pipeline (`service/outbound.py`): `RoomSend`.

One `<encrypted>` for every trusted device of every member of the member list (offline
members included) and our own other devices, the SCE `to` being the room; a member left
without any key blocks the send unless the user chose "everyone with keys" (the partial
send). A correction (XEP-0308) and a reply (XEP-0461) travel as in 1:1 chats: inside the
SCE envelope for OMEMO 2, next to the 0.3 `<encrypted>` outside it. A reply names the room's
stanza-id of the message it answers (`service/replies.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from tui_omemo.model import DeviceRef, Namespace, ReplyRef, TrustLevel
from tui_omemo.protocol.errors import ProtocolError
from tui_omemo.protocol.results import SkipReason
from tui_omemo.service.api import SendFailed, SendReport, SkippedDevice
from tui_omemo.service.corrections import Correction, correction_flags, replaced
from tui_omemo.service.messages import SKIP_WORDS
from tui_omemo.service.outbound import Encrypted, OutboundPipeline, Trust, our_message
from tui_omemo.service.outbox import RoomOutbound
from tui_omemo.service.ports import TransportError
from tui_omemo.service.replies import received

NO_DEVICE = "no usable OMEMO device"


@dataclass(frozen=True, slots=True)
class RoomSend:
    """A room send: one `<encrypted>` with keys for every trusted device of every member
    (the member list, offline members included) and our own other devices.

    Attributes:
        members: the real bare JIDs to encrypt for (ourselves excluded).
        errors: the room's last error per member (updated for members left without keys).
        partial: the user chose "everyone with keys" for this room.
    """

    peer: str
    namespace: Namespace
    nick: str
    members: tuple[str, ...]
    errors: dict[str, str]
    partial: bool
    correction: Correction | None = None
    reply: ReplyRef | None = None  # XEP-0461: `text` starts with its quoted fallback

    def read_ahead(self) -> bool:
        """Room sends decide trust from the store."""
        return False

    async def encrypt(
        self, out: OutboundPipeline, text: str, message_id: str, trust: Trust
    ) -> Encrypted:
        """See `Send.encrypt`."""
        room, namespace, members = self.peer, self.namespace, list(self.members)
        if not members:
            raise SendFailed(
                "the room has no other members to encrypt for; nothing was sent",
                SendReport(None, namespace),
            )
        payload = out.payload(room, text, replaced(self.correction), self.reply)(namespace)
        try:
            result = await out.engine.encrypt(namespace, members, payload, trust.decide)
        except (ProtocolError, TransportError) as error:
            raise SendFailed(
                f"encryption failed, nothing was sent: {error}", SendReport(None, namespace)
            ) from error
        every = [
            _skipped(device, SkipReason.STALE if device in trust.stale else reason)
            for device, reason in result.skipped.items()
        ]
        reached = {device.bare_jid for device in result.recipients}
        missing = [jid for jid in members if jid not in reached]
        for jid in missing:
            self.errors[jid] = _member_error(jid, every)
        # one line per skipped member (device_id None), one per skipped device
        skipped = [device for device in every if device.device_id is not None]
        skipped += [
            SkippedDevice(jid, None, f"member skipped, {NO_DEVICE}: {self.errors[jid]}")
            for jid in missing
        ]
        report = SendReport(None, namespace, tuple(skipped))
        self._gate(report, reached, missing)
        shown, flags = received(text, self.reply)  # our copy shows the text without the quote
        message = replace(
            our_message(out, room, shown, message_id),
            room=room,
            nick=self.nick,
            sender_device=out.engine.device_id,
            trust=TrustLevel.VERIFIED,
            omemo_version=namespace.label,
            flags=flags
            | {"recipients": len(result.recipients), "skipped_members": missing}
            | correction_flags(self.correction),
        )
        replaces = replaced(self.correction)
        stanza = RoomOutbound(room, message_id, result.element, out.hint(), replaces, self.reply)
        return Encrypted(message, stanza, report, result.changes)

    def _gate(self, report: SendReport, reached: set[str], missing: list[str]) -> None:
        """Nobody reached, or members left without keys and no partial choice: none leaves."""
        if not reached:
            raise SendFailed(
                "no member of the room has a trusted device that can receive "
                "the message; nothing was sent",
                report,
            )
        if missing and not self.partial:
            raise SendFailed(
                f"{len(missing)} member(s) have no {NO_DEVICE}: {', '.join(missing)}; "
                "nothing was sent. Choose to send to everyone with keys in this room "
                "explicitly if you want to.",
                report,
                partial_possible=True,
            )


def _skipped(device: DeviceRef, reason: SkipReason) -> SkippedDevice:
    """One skipped device of a room send, in words and with its reason code."""
    return SkippedDevice(
        device.bare_jid, device.device_id or None, SKIP_WORDS[reason], reason.value
    )


def _member_error(jid: str, skipped: Sequence[SkippedDevice]) -> str:
    reasons = sorted({device.reason for device in skipped if device.bare_jid == jid})
    return "; ".join(reasons) if reasons else NO_DEVICE
