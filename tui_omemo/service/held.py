"""1:1 stanzas held in the inbox because their device was not on the sender's device list, and
when they are tried again (DESIGN.md §3.1: nothing is lost).

The inbound pipeline keeps such a stanza unread and notes its device here. The stanza waits
for the device to be listed, and the same device's later stanzas must not overtake it (the
contact's messages would be read out of order): a later one is checked against the same list,
so the held stanzas of its device go first, in the same unit of work, in arrival order. A
notification that lists the device tries them again too; a restart or a new stream tries every
inbox row anyway (`Session.drain_inbox`), which also notes again what an earlier run held.
"""

from __future__ import annotations

from collections.abc import Iterable

from tui_omemo.model import DeviceRef, Namespace
from tui_omemo.protocol.elements import DeviceList
from tui_omemo.service.conversation import Routing
from tui_omemo.service.ports import Inbound

HeldDevice = tuple[Namespace, DeviceRef]
"""A sender device (with the version of its list) that has stanzas held."""


def sender_device(inbound: Inbound, routing: Routing) -> HeldDevice | None:
    """The device an encrypted stanza comes from (None: not encrypted)."""
    element = inbound.encrypted
    if element is None:
        return None
    return element.namespace, DeviceRef(routing.sender, element.sender_device_id)


class HeldStanzas:
    """The devices with stanzas held in the inbox (noted by this process)."""

    def __init__(self) -> None:
        self._devices: set[HeldDevice] = set()

    def hold(self, namespace: Namespace, device: DeviceRef) -> None:
        """Note that a stanza of `device` is held."""
        self._devices.add((namespace, device))

    def due(self, devices: Iterable[HeldDevice | None]) -> set[HeldDevice]:
        """Which of `devices` have held stanzas to try now; they are forgotten here until a
        try holds them again."""
        due = self._devices.intersection(devices)
        self._devices -= due
        return due

    def listed(self, bare_jid: str, device_list: DeviceList) -> set[HeldDevice]:
        """The devices of `bare_jid` with held stanzas that `device_list` lists (see `due`)."""
        namespace = device_list.namespace
        return self.due((namespace, DeviceRef(bare_jid, id_)) for id_ in device_list.device_ids)
