"""Device lists and trust decisions, the tables the service reads and writes directly.

Devices are keyed by (namespace, bare JID, device id): the same device id may be announced
in both OMEMO versions. Identity keys and trust are keyed by (bare JID, device id, identity
key) so that a device id that shows up with a different identity key starts undecided instead
of inheriting trust. Every trust change is appended to ``trust_history``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from tui_omemo.model import Namespace, TrustLevel
from tui_omemo.store.records import DeviceRecord, IdentityRecord, TrustChange
from tui_omemo.store.sql import Connection, Row

LAST_MESSAGE_RESOLUTION_MS = 60_000
"""How fresh a device's ``last_message`` is kept: a burst of messages from one device rewrites
its row once a minute, not once per message (a page write per commit saved; stale devices
are judged in days)."""

_DEVICE_COLUMNS = (
    "namespace, bare_jid, device_id, label, active, first_seen, last_seen, last_message"
)


class Devices:
    """Repository over the ``devices`` table."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def apply_device_list(
        self,
        namespace: Namespace,
        bare_jid: str,
        device_ids: Iterable[int],
        *,
        now: int,
        labels: Mapping[int, str] | None = None,
    ) -> list[int]:
        """Record a published device list: listed devices become active, others inactive.

        Devices are never deleted; ones missing from the list are only marked inactive.

        Returns:
            The ids that were active and are not on the list any more.
        """
        listed = set(device_ids)
        was_active = {
            row[0]
            for row in self._connection.execute(
                "SELECT device_id FROM devices WHERE namespace = ? AND bare_jid = ? AND active = 1",
                (namespace.value, bare_jid),
            )
        }
        self._connection.execute(
            "UPDATE devices SET active = 0 WHERE namespace = ? AND bare_jid = ?",
            (namespace.value, bare_jid),
        )
        for device_id in sorted(listed):
            label = (labels or {}).get(device_id)
            self._connection.execute(
                f"INSERT INTO devices ({_DEVICE_COLUMNS}) "  # noqa: S608 (constant columns)
                "VALUES (?, ?, ?, ?, 1, ?, ?, NULL) "
                "ON CONFLICT (namespace, bare_jid, device_id) DO UPDATE SET active = 1, "
                "last_seen = excluded.last_seen, label = coalesce(excluded.label, label)",
                (namespace.value, bare_jid, device_id, label, now, now),
            )
        return sorted(was_active - listed)

    def touch_message(self, namespace: Namespace, bare_jid: str, device_id: int, now: int) -> None:
        """Note that a message from this device was just decrypted (stale-device detection),
        to within `LAST_MESSAGE_RESOLUTION_MS`: a stored time in the minute up to `now` is
        kept; an older one, or one later than `now` (a clock set back), is replaced."""
        self._connection.execute(
            "UPDATE devices SET last_message = ? "
            "WHERE namespace = ? AND bare_jid = ? AND device_id = ? "
            "AND (last_message IS NULL OR last_message NOT BETWEEN ? AND ?)",
            (now, namespace.value, bare_jid, device_id, now - LAST_MESSAGE_RESOLUTION_MS, now),
        )

    def of(self, bare_jid: str, namespace: Namespace | None = None) -> list[DeviceRecord]:
        """The devices known for a bare JID (both namespaces unless one is given)."""
        sql = f"SELECT {_DEVICE_COLUMNS} FROM devices WHERE bare_jid = ?"  # noqa: S608
        params: tuple[object, ...] = (bare_jid,)
        if namespace is not None:
            sql += " AND namespace = ?"
            params = (bare_jid, namespace.value)
        rows = self._connection.execute(sql + " ORDER BY namespace, device_id", params)
        return [_device(row) for row in rows]


class Trust:
    """Repository over ``identities`` and ``trust_history``."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def get(self, bare_jid: str, device_id: int, identity_key: bytes) -> TrustLevel | None:
        """The trust decided for this identity key of this device, or None if unknown."""
        row = self._connection.execute(
            "SELECT trust FROM identities WHERE bare_jid = ? AND device_id = ? "
            "AND identity_key = ?",
            (bare_jid, device_id, identity_key),
        ).fetchone()
        return None if row is None else TrustLevel(row[0])

    def record_identity(
        self,
        bare_jid: str,
        device_id: int,
        identity_key: bytes,
        now: int,
        initial: TrustLevel = TrustLevel.UNDECIDED,
    ) -> TrustLevel:
        """Remember an identity key when first seen.

        Returns:
            Its trust: the stored one when already known, else `initial`.
        """
        known = self.get(bare_jid, device_id, identity_key)
        if known is not None:
            return known
        self._connection.execute(
            "INSERT INTO identities (bare_jid, device_id, identity_key, trust, first_seen) "
            "VALUES (?, ?, ?, ?, ?)",
            (bare_jid, device_id, identity_key, initial.value, now),
        )
        return initial

    def set_trust(
        self,
        bare_jid: str,
        device_id: int,
        identity_key: bytes,
        level: TrustLevel,
        *,
        now: int,
        actor: str,
        reason: str | None = None,
    ) -> None:
        """Decide the trust of an identity key and append the change to the history.

        Args:
            actor: who decided, e.g. "user", "btbv", "uri".
            reason: optional short explanation (no secrets).
        """
        old = self.get(bare_jid, device_id, identity_key)
        self._connection.execute(
            "INSERT INTO identities (bare_jid, device_id, identity_key, trust, first_seen, "
            "decided_at) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (bare_jid, device_id, identity_key) DO UPDATE SET "
            "trust = excluded.trust, decided_at = excluded.decided_at",
            (bare_jid, device_id, identity_key, level.value, now, now),
        )
        self._connection.execute(
            "INSERT INTO trust_history (bare_jid, device_id, identity_key, old_trust, "
            "new_trust, changed_at, actor, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                bare_jid,
                device_id,
                identity_key,
                None if old is None else old.value,
                level.value,
                now,
                actor,
                reason,
            ),
        )

    def identities(self, bare_jid: str) -> list[IdentityRecord]:
        """Every identity key known for a bare JID, by device id."""
        rows = self._connection.execute(
            "SELECT bare_jid, device_id, identity_key, trust, first_seen, decided_at "
            "FROM identities WHERE bare_jid = ? ORDER BY device_id, first_seen",
            (bare_jid,),
        )
        return [
            IdentityRecord(row[0], row[1], bytes(row[2]), TrustLevel(row[3]), row[4], row[5])
            for row in rows
        ]

    def history(self, bare_jid: str, device_id: int | None = None) -> list[TrustChange]:
        """Trust changes for a bare JID (or one of its devices), oldest first."""
        sql = (
            "SELECT bare_jid, device_id, identity_key, old_trust, new_trust, changed_at, actor, "
            "reason FROM trust_history WHERE bare_jid = ?"
        )
        params: tuple[object, ...] = (bare_jid,)
        if device_id is not None:
            sql += " AND device_id = ?"
            params = (bare_jid, device_id)
        rows = self._connection.execute(sql + " ORDER BY changed_at, id", params)
        return [_change(row) for row in rows]


def _device(row: Row) -> DeviceRecord:
    return DeviceRecord(
        Namespace(row[0]), row[1], row[2], row[3], bool(row[4]), row[5], row[6], row[7]
    )


def _change(row: Row) -> TrustChange:
    return TrustChange(
        row[0],
        row[1],
        bytes(row[2]),
        None if row[3] is None else TrustLevel(row[3]),
        TrustLevel(row[4]),
        row[5],
        row[6],
        row[7],
    )
