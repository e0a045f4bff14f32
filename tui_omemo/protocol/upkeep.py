"""Our device's state over its life: created once, then prekeys refilled and rotated.

* `load_or_create_identity`: the one direct write of the engine. A new identity is generated only
  when the store holds none; prekey states are written first and the identity last, so a crash
  in between is detected as `StateCorrupted` (never regenerated over).
* `maintain`: rotate signed prekeys that are too old and refill prekeys, for both versions.
* `delete_hidden`: drop the prekeys hidden during a catch-up.
"""

from __future__ import annotations

from collections.abc import Collection

from tui_omemo.protocol.errors import StateCorrupted
from tui_omemo.protocol.identity import IDENTITY_KEY, Identity, PreKeys, pre_keys_key
from tui_omemo.protocol.operation import Operation
from tui_omemo.protocol.ports import Directory, StateStore
from tui_omemo.protocol.settings import CoreSettings
from tui_omemo.protocol.versions import ALL_VERSIONS


async def load_or_create_identity(
    own_bare_jid: str,
    store: StateStore,
    directory: Directory,
    settings: CoreSettings,
    taken_device_ids: Collection[int] | None,
) -> Identity:
    """Our stored identity (after checking both prekey states load), or a new one written
    through `store` (see `Engine.create`).

    Raises:
        StateCorrupted: part of the state exists but not all, or a stored value is unusable.
    """
    stored_identity = await store.load(IDENTITY_KEY)
    stored_pre_keys = [await store.load(pre_keys_key(v)) for v in ALL_VERSIONS]
    if stored_identity is not None:
        identity = Identity.from_json(stored_identity)
        for version, stored in zip(ALL_VERSIONS, stored_pre_keys, strict=True):
            if stored is None:
                raise StateCorrupted(f"identity without prekey state {version.namespace}")
            PreKeys.from_json(version, stored)
        return identity
    if any(stored is not None for stored in stored_pre_keys):
        raise StateCorrupted("prekey state without an identity")
    if taken_device_ids is None:
        taken_device_ids = await _own_device_ids(directory, own_bare_jid)
    identity = Identity.generate(taken_device_ids)
    for version in ALL_VERSIONS:
        pre_keys = PreKeys.create(version, identity, settings.pre_keys_target)
        await store.store(pre_keys_key(version), pre_keys.to_json())
    await store.store(IDENTITY_KEY, identity.to_json())
    return identity


async def _own_device_ids(directory: Directory, own_bare_jid: str) -> set[int]:
    """The device ids on our own device lists of both versions (a new id avoids them)."""
    taken: set[int] = set()
    for version in ALL_VERSIONS:
        taken |= (await directory.fetch_device_list(version.namespace, own_bare_jid)).device_ids
    return taken


async def maintain(op: Operation, identity: Identity, settings: CoreSettings, now: float) -> bool:
    """Record the rotation of too old signed prekeys and the prekey refill in `op`, for both
    versions; whether the bundles changed."""
    max_age = settings.renew_signed_prekey_after_hours * 3600
    changed = False
    for version in ALL_VERSIONS:
        pre_keys = await op.pre_keys(version)
        modified = False
        if settings.renew_signed_prekey and pre_keys.signed_pre_key_age(now) >= max_age:
            pre_keys.rotate(settings.renew_signed_prekey_keep, identity.seed)
            modified = True
        modified = pre_keys.refill(settings.pre_keys_target) or modified
        if modified:
            op.save_pre_keys(version)
            changed = True
    return changed


async def delete_hidden(op: Operation) -> None:
    """Record the deletion of the prekeys hidden during catch-up, for both versions."""
    for version in ALL_VERSIONS:
        if (await op.pre_keys(version)).delete_hidden():
            op.save_pre_keys(version)
