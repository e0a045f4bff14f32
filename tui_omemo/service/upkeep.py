"""Own-device upkeep: what keeps this device reachable and its sessions healthy.

Publishing (our bundles, our entry on both device lists, merged with what the server has),
prekey refill and signed-prekey rotation (`Engine.maintain`, committed in one unit of work),
empty messages (answers to key exchanges and heartbeats, the sessions built while catching
up), session rebuilds and the opt-in, rate-limited repair of a broken session, and learning a
device's identity key from its bundle (BTBV). Stale own devices are judged by the trust
decider (`service/trust.py`). Every engine operation here runs under the engine lock the
pipelines share.
"""

from __future__ import annotations

import contextlib
import time

from tui_omemo.model import DeviceRef, Namespace, TrustLevel
from tui_omemo.protocol.device_list import merge_device_list
from tui_omemo.protocol.elements import DeviceList, DeviceListEntry
from tui_omemo.protocol.engine import DecryptResult
from tui_omemo.protocol.errors import BundleUnavailable, ProtocolError
from tui_omemo.protocol.ports import StateChanges
from tui_omemo.protocol.trust import TrustMode
from tui_omemo.protocol.versions import version_for
from tui_omemo.service.account import device_label, own_entry
from tui_omemo.service.api import SecurityEventRaised
from tui_omemo.service.clock import new_message_id, now_ms
from tui_omemo.service.parts import PipelineComponent, PipelineParts
from tui_omemo.service.ports import Outbound, TransportError
from tui_omemo.service.state import apply_state_changes
from tui_omemo.service.trust import PendingEvent, observe_identity

REPAIR_INTERVAL_S = 3600.0


class Upkeep(PipelineComponent):
    """Our device's publishing, maintenance and session repair.

    Args:
        parts: what the pipeline's components share (`service/parts.py`; the directory is
            invalidated when our own device list changes).
    """

    def __init__(self, parts: PipelineParts) -> None:
        super().__init__(parts)
        self._repaired: dict[DeviceRef, float] = {}
        self.catch_up_sessions: set[tuple[Namespace, DeviceRef]] = set()
        """Devices that built a session with us while catching up (answered at its end)."""

    @property
    def own(self) -> str:
        """Our bare JID."""
        return self._engine.own_bare_jid

    def emit_events(self, events: list[PendingEvent] | tuple[PendingEvent, ...]) -> None:
        """Emit security events recorded in a committed unit of work."""
        for event in events:
            self._emit(SecurityEventRaised(event.public()))

    # --- after a decryption -----------------------------------------------------------------

    async def after_decrypt(self, result: DecryptResult, *, tolerant: bool = False) -> None:
        """Republish a changed bundle, answer a key exchange or heartbeat with an empty message
        (after catch-up for sessions built during it). The engine lock is held.

        Args:
            result: what the engine decrypted (already committed).
            tolerant: skip a republish that fails on the network and an empty message that
                fails on the network or in the protocol (the room policy); otherwise the
                error propagates (the direct policy, where the pipeline logs it).
        """
        publish_errors = (TransportError,) if tolerant else ()
        empty_errors = (TransportError, ProtocolError) if tolerant else ()
        if result.pre_key_consumed:
            with contextlib.suppress(*publish_errors):
                await self.publish_bundle(result.namespace)
        if self._engine.catching_up and result.key_exchange:
            self.catch_up_sessions.add((result.namespace, result.sender))
            return
        if result.send_empty_message:
            with contextlib.suppress(*empty_errors):
                await self.send_empty_locked(result.namespace, result.sender)

    async def maybe_repair(self, device: DeviceRef, namespace: Namespace) -> None:
        """The optional, rate-limited "repair broken sessions" answer (never during catch-up).
        The engine lock is held."""
        if not self._settings().repair_broken_sessions or self._engine.catching_up:
            return
        last = self._repaired.get(device)
        if last is not None and time.monotonic() - last < REPAIR_INTERVAL_S:
            return
        self._repaired[device] = time.monotonic()
        await self.rebuild_locked(device, (namespace,))

    # --- empty messages and rebuilds ----------------------------------------------------------

    async def send_empty(self, namespace: Namespace, device: DeviceRef) -> None:
        """Send an empty (key-transport) message to one device."""
        async with self._lock:
            await self.send_empty_locked(namespace, device)

    async def send_empty_locked(self, namespace: Namespace, device: DeviceRef) -> None:
        """`send_empty` for callers already holding the engine lock."""
        result = await self._engine.encrypt(
            namespace, [device], None, lambda _d, _k: TrustLevel.VERIFIED
        )
        if not result.recipients:
            return
        await self._runner.write(lambda uow: apply_state_changes(uow, result.changes))
        await self._transport.send(Outbound(device.bare_jid, new_message_id(), result.element))

    async def rebuild_session(self, device: DeviceRef) -> None:
        """Forget the sessions with `device` and start new ones with an empty message."""
        async with self._lock:
            await self.rebuild_locked(device, tuple(Namespace))

    async def rebuild_locked(self, device: DeviceRef, namespaces: tuple[Namespace, ...]) -> None:
        """`rebuild_session` in `namespaces`, for callers holding the engine lock."""
        for namespace in namespaces:
            if not (
                await self._directory.fetch_device_list(namespace, device.bare_jid)
            ).device_ids & {device.device_id}:
                continue
            result = await self._engine.rebuild_session(namespace, device)
            await self._commit_changes(result.changes)  # deletion + new session: one unit
            if result.recipients:
                await self._transport.send(
                    Outbound(device.bare_jid, new_message_id(), result.element)
                )

    async def _commit_changes(self, changes: StateChanges) -> None:
        if changes:
            await self._runner.write(lambda uow: apply_state_changes(uow, changes))

    # --- identities ---------------------------------------------------------------------------

    async def learn_identity(
        self, namespace: Namespace, device: DeviceRef, mode: TrustMode
    ) -> str | None:
        """Fetch one device's bundle and record its identity key (BTBV applies to a device
        seen for the first time); the security events are emitted.

        Returns:
            None, or why the identity key could not be learned, in words.
        """
        try:
            bundle = await self._directory.fetch_bundle(
                namespace, device.bare_jid, device.device_id
            )
            identity_key = version_for(namespace).parse_bundle(bundle).identity_key_curve
        except BundleUnavailable:
            return f"no key bundle for device {device.device_id}"
        except ProtocolError:
            return f"the key bundle of device {device.device_id} is invalid"
        now = now_ms()
        _level, events = await self._runner.write(
            lambda uow: observe_identity(uow, device, identity_key, mode, now)
        )
        self.emit_events(events)
        return None

    # --- publishing ---------------------------------------------------------------------------

    async def publish_bundle(self, namespace: Namespace) -> None:
        """Publish our current bundle of one namespace."""
        bundle = await self._engine.bundle(namespace)
        await self._transport.publish_bundle(self._engine.device_id, bundle)

    async def publish_own(self) -> None:
        """Maintain prekeys (rotation per settings, refill), publish both bundles and our
        device on both (merged) device lists."""
        async with self._lock:
            changes, _changed = await self._engine.maintain()
            await self._commit_changes(changes)
        for namespace in Namespace:
            await self.publish_bundle(namespace)
            await self.publish_device_list(namespace)

    async def publish_device_list(self, namespace: Namespace) -> None:
        """Put our device on our own device list of `namespace`: the list on the server,
        merged (every other id kept), published only when ours was missing."""
        server = await self._transport.fetch_device_list(namespace, self.own)
        merged = merge_device_list(namespace, server, [await self.own_entry(namespace, server)])
        if merged is None:
            return
        await self._transport.publish_device_list(merged)
        self._directory.invalidate(self.own)

    async def own_entry(self, namespace: Namespace, server: DeviceList | None) -> DeviceListEntry:
        """Our entry on our device list of `namespace` (OMEMO 2: with our signed label)."""
        label = await self._runner.read(device_label)
        return own_entry(
            namespace, self._engine.device_id, label, self._engine.sign_device_label, server
        )
