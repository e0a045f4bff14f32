"""`merge_device_list`: the pure merge of our entries into the server's device list."""

from __future__ import annotations

from tui_omemo.model import Namespace
from tui_omemo.protocol.device_list import merge_device_list
from tui_omemo.protocol.elements import DeviceList, DeviceListEntry

LEGACY = Namespace.LEGACY
V2 = Namespace.V2


def test_merge_keeps_other_devices_and_adds_ours() -> None:
    """Pitfall 17: publishing merges with the server's ids; never only ours."""
    server = DeviceList(LEGACY, (DeviceListEntry(1), DeviceListEntry(2)))
    merged = merge_device_list(LEGACY, server, [DeviceListEntry(3)])
    assert merged is not None
    assert merged.device_ids == {1, 2, 3}
    assert merge_device_list(LEGACY, merged, [DeviceListEntry(3)]) is None
    created = merge_device_list(V2, None, [DeviceListEntry(3)])
    assert created == DeviceList(V2, (DeviceListEntry(3),))
    dropped = merge_device_list(LEGACY, merged, [DeviceListEntry(3)], drop=[2])
    assert dropped is not None
    assert dropped.device_ids == {1, 3}
