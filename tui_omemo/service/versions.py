"""One 1:1 message in the OMEMO version each recipient device speaks.

A contact (or our own account) may have devices that publish OMEMO 2 and devices that publish
only 0.3 (Conversations, Gajim, Dino, Monal, slixmpp-omemo set up for 0.3). Choosing one
version per contact loses the message on the devices that do not speak it. With `auto`, each
device gets the best version it publishes:

* every device on an OMEMO 2 device list (the contact's and our own other devices) gets its
  key in one `urn:xmpp:omemo:2` element;
* every device on a 0.3 list that the first element did not reach gets its key in one
  `eu.siacs.conversations.axolotl` element — also a device skipped in OMEMO 2 for want of a
  usable bundle, but never one skipped for trust (its identity key, hence the decision, is the
  same in both versions).

Both elements travel in **one** stanza (what slixmpp-omemo/python-omemo, written by a
co-author of XEP-0384, sends too), not in two stanzas:

* every client finds its own version's element and ignores the other: 0.3-only clients only
  look for the 0.3 namespace; clients that speak both take the OMEMO 2 element (python-omemo
  does; so does our reader), which is why every device on an OMEMO 2 list gets OMEMO 2 here;
* two stanzas would reach every device twice: one copy without a key for it, which
  Conversations-style clients show as "not encrypted for this device", and OMEMO-2-only
  clients (Kaidan) would show the second copy's 0.3 fallback `<body>` as a message; the server
  would also archive, store offline and push the message twice;
* the one fallback body of the combined stanza (sent with either version, issue 13) is
  ignored by OMEMO receivers, which must ignore an outer `<body>` next to `<encrypted>`
  (OMEMO-WIRE §4.5).

A chat forced to one version (`0.3` / `2`) encrypts in that version only and reports each
device that publishes only the other one (`SkipReason.OTHER_VERSION`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from tui_omemo.model import DeviceRef, Namespace
from tui_omemo.protocol.engine import Engine, TrustDecider
from tui_omemo.protocol.ports import Directory, StateChanges
from tui_omemo.protocol.results import EncryptResult, SkipReason

TRUST_REASONS = frozenset({SkipReason.UNTRUSTED, SkipReason.UNDECIDED})
"""Skips that depend on the identity key only: the other version would decide the same."""

Payload = Callable[[Namespace], bytes]
"""The plaintext of one version: 0.3 the body bytes, OMEMO 2 the SCE envelope."""


def other_version(namespace: Namespace) -> Namespace:
    """The other OMEMO version."""
    return Namespace.LEGACY if namespace is Namespace.V2 else Namespace.V2


@dataclass(frozen=True, slots=True)
class VersionedResult:
    """One message encrypted in one or two versions.

    Attributes:
        results: one per version used, the one that reached the contact first; each reached
            at least one device (the first may reach none when every device was skipped).
        skipped: every device that got no key in any version, with the reason.
    """

    results: tuple[EncryptResult, ...]
    skipped: Mapping[DeviceRef, SkipReason] = field(default_factory=dict)

    @property
    def recipients(self) -> tuple[DeviceRef, ...]:
        """The devices that got a key, in any version."""
        return tuple(device for result in self.results for device in result.recipients)

    @property
    def namespaces(self) -> tuple[Namespace, ...]:
        """The versions the stanza carries, the contact's first."""
        return tuple(result.element.namespace for result in self.results)

    def changes(self) -> StateChanges:
        """The state changes of every version, for one unit of work."""
        merged = StateChanges()
        for result in self.results:
            merged.merge(result.changes)
        return merged


async def encrypt_per_device(  # noqa: PLR0917 (the parts of one send)
    engine: Engine,
    directory: Directory,
    peer: str,
    payload: Payload,
    trust: TrustDecider,
    forced: Namespace | None,
) -> VersionedResult:
    """Encrypt one message for `peer`'s devices and our own other devices (see the module
    docstring); nothing is committed.

    Raises:
        ProtocolError, TransportError: encryption or a directory fetch failed.
    """
    if forced is not None:
        return await _encrypt_forced(engine, directory, peer, payload, trust, forced)
    lists = _Lists(directory, peer, engine.own_bare_jid)
    v2_peer = await lists.ids(Namespace.V2, peer)
    first = await engine.encrypt(
        Namespace.V2, [peer] if v2_peer else [], payload(Namespace.V2), trust
    )
    done = set(first.recipients) | {d for d, r in first.skipped.items() if r in TRUST_REASONS}
    rest = [
        device
        for device in await lists.devices(Namespace.LEGACY)
        if device not in done and device != engine.own_device
    ]
    second = (
        await engine.encrypt(
            Namespace.LEGACY, rest, payload(Namespace.LEGACY), trust, own_devices=False
        )
        if rest
        else None
    )
    used = [result for result in (first, second) if result is not None and result.recipients]
    used.sort(key=lambda result: not _reaches(result, peer))
    return VersionedResult(tuple(used) or (first,), _skipped((first, second)))


async def _encrypt_forced(  # noqa: PLR0917
    engine: Engine,
    directory: Directory,
    peer: str,
    payload: Payload,
    trust: TrustDecider,
    namespace: Namespace,
) -> VersionedResult:
    """One version only; devices publishing only the other one are reported."""
    result = await engine.encrypt(namespace, [peer], payload(namespace), trust)
    lists = _Lists(directory, peer, engine.own_bare_jid)
    speaking = set(await lists.devices(namespace))
    skipped = dict(result.skipped)
    for device in await lists.devices(other_version(namespace)):
        if device not in speaking and device != engine.own_device:
            skipped[device] = SkipReason.OTHER_VERSION
            skipped.pop(DeviceRef(peer, 0), None)  # it has devices, just not in this version
    return VersionedResult((result,), skipped)


def _reaches(result: EncryptResult, peer: str) -> bool:
    return any(device.bare_jid == peer for device in result.recipients)


def _skipped(results: Iterable[EncryptResult | None]) -> dict[DeviceRef, SkipReason]:
    """Skips of every version, minus the devices another version reached."""
    present = [result for result in results if result is not None]
    reached = {device for result in present for device in result.recipients}
    skipped: dict[DeviceRef, SkipReason] = {}
    for result in present:
        skipped.update(result.skipped)
    return {device: reason for device, reason in skipped.items() if device not in reached}


class _Lists:
    """The contact's and our own device lists of both versions, fetched once per send."""

    def __init__(self, directory: Directory, peer: str, own: str) -> None:
        self._directory = directory
        self._jids = (peer, own)
        self._ids: dict[tuple[Namespace, str], frozenset[int]] = {}

    async def ids(self, namespace: Namespace, jid: str) -> frozenset[int]:
        """The ids on `jid`'s list of `namespace`."""
        if (namespace, jid) not in self._ids:
            listed = await self._directory.fetch_device_list(namespace, jid)
            self._ids[(namespace, jid)] = listed.device_ids
        return self._ids[(namespace, jid)]

    async def devices(self, namespace: Namespace) -> list[DeviceRef]:
        """The contact's devices, then our own, on the lists of `namespace`, sorted."""
        return [
            DeviceRef(jid, device_id)
            for jid in dict.fromkeys(self._jids)
            for device_id in sorted(await self.ids(namespace, jid))
        ]
