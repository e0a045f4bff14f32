"""`OmemoDirectory`: the OMEMO nodes in PEP (device lists and bundles, both versions).

A thin layer over the `tui_omemo_xep_0384` plugin of the live stream: each request is sent on
the current stream and fails with `NotConnected` when that stream is replaced before the answer
(`Connection.answer`). Device-list notifications (ours and contacts') go to the listeners.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from tui_omemo.model import Namespace, bare_jid
from tui_omemo.protocol.elements import DeviceList, DeviceListEntry, WireBundle
from tui_omemo.xmpp.connection import Connection
from tui_omemo.xmpp.secure import SecureStream
from tui_omemo.xmpp.xep_0384 import XEP_0384, DeviceListUpdate


class OmemoDirectory:
    """Device lists and bundles of one `XmppClient` (its `Connection`)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._device_list_listeners: list[Callable[[DeviceListUpdate], None]] = []

    def setup(self, xmpp: SecureStream) -> None:
        """Hear the device-list notifications of a new stream."""
        xmpp.add_event_handler("omemo_device_list", self._on_device_list)

    def plugin(self) -> XEP_0384:
        """The OMEMO plugin of the live stream (raises `NotConnected` without a session)."""
        plugins: Any = self._connection.live().plugin
        return cast(XEP_0384, plugins[XEP_0384.name])

    async def fetch_device_list(self, jid: str, namespace: Namespace) -> DeviceList:
        """`jid`'s device list for `namespace` (empty when none). See XEP_0384."""
        return await self._connection.answer(
            self.plugin().fetch_device_list(bare_jid(jid), namespace)
        )

    async def publish_device_list(
        self,
        namespace: Namespace,
        own: DeviceListEntry,
        *,
        drop: tuple[int, ...] = (),
        server: DeviceList | None = None,
    ) -> DeviceList:
        """Put our device on our own list, merged with the server's (or with `server`, a list
        just read); returns the new list."""
        return await self._connection.answer(
            self.plugin().publish_device_list(namespace, own, drop=drop, server=server)
        )

    async def publish_exact_device_list(self, device_list: DeviceList) -> None:
        """Publish `device_list` as it is (the caller merged it with the server's list)."""
        await self._connection.answer(self.plugin().publish_exact_device_list(device_list))

    async def publish_bundle(self, device_id: int, bundle: WireBundle) -> None:
        """Publish our bundle for `device_id` (access model open)."""
        await self._connection.answer(self.plugin().publish_bundle(device_id, bundle))

    async def fetch_bundle(self, jid: str, namespace: Namespace, device_id: int) -> WireBundle:
        """`jid`'s bundle for `device_id`. Raises BundleNotFound when there is none."""
        return await self._connection.answer(
            self.plugin().fetch_bundle(bare_jid(jid), namespace, device_id)
        )

    def add_device_list_listener(self, listener: Callable[[DeviceListUpdate], None]) -> None:
        """Call `listener` for every device-list notification (ours and contacts')."""
        self._device_list_listeners.append(listener)

    def _on_device_list(self, update: DeviceListUpdate) -> None:
        for listener in self._device_list_listeners:
            listener(update)
