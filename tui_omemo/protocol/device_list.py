"""Device-list logic that needs no XML: what to publish as our own device list.

A device list is shared by every device of an account, so publishing one is always a merge with
what the server has (OMEMO-WIRE.md pitfall 17): other devices' ids are never dropped unless the
user confirmed their removal.
"""

from __future__ import annotations

from collections.abc import Iterable

from tui_omemo.model import Namespace
from tui_omemo.protocol.elements import DeviceList, DeviceListEntry


def merge_device_list(
    namespace: Namespace,
    server: DeviceList | None,
    own: Iterable[DeviceListEntry],
    *,
    drop: Iterable[int] = (),
) -> DeviceList | None:
    """The device list to publish: everything on the server (never drop others' ids, pitfall 17)
    plus the `own` entries (which replace entries with the same id, e.g. to change our label),
    minus the ids in `drop` (an explicit, user-confirmed removal).

    Args:
        namespace: the list's namespace.
        server: what the server has now; None when the node does not exist yet.
        own: our entries, at least one.
        drop: ids to remove.

    Returns:
        The merged list, or None when the server already has exactly that.

    Raises:
        ValueError: when `own` is empty or `server` is in another namespace.
    """
    own = tuple(own)
    if not own:
        raise ValueError("merge_device_list needs at least one own entry")
    if server is not None and server.namespace is not namespace:
        raise ValueError("device list namespace mismatch")
    current = {entry.device_id: entry for entry in (server.devices if server else ())}
    merged = dict(current)
    for entry in own:
        merged[entry.device_id] = entry
    for device_id in drop:
        merged.pop(device_id, None)
    if server is not None and merged == current:
        return None
    return DeviceList(namespace, tuple(merged.values()))
