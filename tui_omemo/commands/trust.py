"""`tui-omemo devices`, `trust` and `verify-uri`: see and decide which devices get keys.

All three log in first, so that the device lists and identity keys they show or decide on are
the ones the contact publishes now. A decision is stored for the device's current identity key:
if the device later shows up with another key, it starts undecided again.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from tui_omemo.commands import frontends, schema
from tui_omemo.commands.console import CommandError, Console, UsageError
from tui_omemo.commands.jids import check_jid
from tui_omemo.commands.profile import ProfileOptions
from tui_omemo.commands.runtime import online
from tui_omemo.model import TrustLevel
from tui_omemo.service.api import DeviceInfo, UriPreview
from tui_omemo.xmpp.errors import TransportError

TRUST_WORDS = {
    "verify": TrustLevel.VERIFIED,
    "blind": TrustLevel.BLINDLY_TRUSTED,
    "distrust": TrustLevel.DISTRUSTED,
    "undecided": TrustLevel.UNDECIDED,
}


@dataclass(frozen=True, slots=True)
class DevicesArgs:
    """The arguments of `devices`."""

    jid: str | None
    json: bool


def devices(options: ProfileOptions, args: DevicesArgs, console: Console) -> int:
    """Print the devices of one contact (fetched again), or ours and every contact's."""
    jid = None if args.jid is None else check_jid(args.jid)
    found = frontends.run(_devices(options, jid, console))
    for device in found:
        console.out(device_json(device) if args.json else _device_line(device))
    if not found and not args.json:
        console.err(f"no OMEMO devices known for {jid or 'this account'}")
    return 0


async def _devices(options: ProfileOptions, jid: str | None, console: Console) -> list[DeviceInfo]:
    async with online(options, console, rooms=False) as running:
        if jid is not None:
            with contextlib.suppress(TransportError):
                await running.service.refresh_device_list(jid)
        return list(await running.service.devices(jid))


def _device_line(device: DeviceInfo) -> str:
    where = "this device" if device.this_device else ("active" if device.active else "inactive")
    versions = ",".join(namespace.label for namespace in device.namespaces) or "-"
    return (
        f"{device.bare_jid} {device.device_id} {device.trust.value} ({where}; OMEMO {versions})"
        f" {device.fingerprint or 'fingerprint unknown'}"
    )


def device_json(device: DeviceInfo) -> str:
    """A `device` object of JSON schema 1 (`versions`: the OMEMO versions it publishes)."""
    return schema.dump("device", device_object(device))


def device_object(device: DeviceInfo) -> dict[str, object]:
    """One device's fields in JSON schema 1: `devices --json` prints them as a `device`
    object, `account show --json` lists ours."""
    return {
        "jid": device.bare_jid,
        "device": device.device_id,
        "fingerprint": device.fingerprint or None,
        "trust": schema.trust_word(device.trust),
        "active": device.active,
        "versions": [namespace.label for namespace in device.namespaces],
        "own": device.own,
        "this_device": device.this_device,
        "label": device.label,
        "last_seen": schema.iso_time(device.last_seen),
    }


def trust_json(jid: str, device_id: int, level: TrustLevel) -> str:
    """A `trust` object of JSON schema 1: the decision now recorded for one device."""
    return schema.dump(
        "trust", {"jid": jid, "device": device_id, "trust": schema.trust_word(level)}
    )


def set_trust(
    options: ProfileOptions,
    jid: str,
    device_id: int,
    level: TrustLevel,
    console: Console,
    *,
    as_json: bool = False,
) -> int:
    """Record a manual trust decision for one device.

    Raises:
        CommandError: the device's identity key is unknown (not published).
    """
    peer = check_jid(jid)
    if device_id < 1:
        raise UsageError("DEVICE_ID is a positive number")
    frontends.run(_set_trust(options, peer, device_id, level, console))
    if as_json:
        console.out(trust_json(peer, device_id, level))
    else:
        console.out(f"device {device_id} of {peer} is now {level.value}")
    return 0


async def _set_trust(
    options: ProfileOptions, jid: str, device_id: int, level: TrustLevel, console: Console
) -> None:
    async with online(options, console, rooms=False) as running:
        try:
            await running.service.set_trust(jid, device_id, level)
        except KeyError:
            raise CommandError(
                f"device {device_id} of {jid} is unknown: it publishes no key bundle "
                f"(see `tui-omemo devices {jid}`)"
            ) from None


def verify_uri(options: ProfileOptions, uri: str, console: Console) -> int:
    """Verify every device whose fingerprint the `xmpp:…?omemo-sid-N=…` URI vouches for.

    Raises:
        UsageError: the text is not a trust URI.
    """
    preview, changed = frontends.run(_verify_uri(options, uri, console))
    for entry in preview.fingerprints:
        if not entry.known:
            state = "unknown device (not published): not verified"
        elif entry.current is TrustLevel.VERIFIED:
            state = "already verified"
        else:
            was = "none" if entry.current is None else entry.current.value
            state = f"verified now (was {was})"
        console.out(f"{preview.bare_jid} {entry.device_id} {entry.fingerprint}: {state}")
    console.out(f"{changed} device(s) of {preview.bare_jid} newly verified")
    return 0


async def _verify_uri(
    options: ProfileOptions, uri: str, console: Console
) -> tuple[UriPreview, int]:
    async with online(options, console, rooms=False) as running:
        try:
            preview = await running.service.preview_trust_uri(uri)
        except ValueError as error:
            raise UsageError(f"not a trust URI: {error}") from None
        with contextlib.suppress(TransportError):
            await running.service.refresh_device_list(preview.bare_jid)
        preview = await running.service.preview_trust_uri(uri)
        return preview, await running.service.apply_trust_uri(uri)
