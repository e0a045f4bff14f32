"""The account of a profile without a server: creating it (row, pin, identity), changing it.

`create_account` writes the account row, the certificate pin and the new device's identity
and prekeys (`Engine.create`) in one store transaction, so an interrupted `account add` leaves
either nothing or a complete profile. The new device id avoids nothing but itself (the
server's device lists are not fetched here); the service checks the id against the published
lists when it connects.

The protocol core reads and writes its state through `UnitOfWorkStateStore`: the service's
`RunnerStateStore` hops to its DB thread for every call and commits each write on its own;
here the caller already holds the unit of work, so this adapter calls the service's encoding
functions (`load_state`, `apply_state_changes`) directly inside it: the rows are
byte-for-byte what the service writes and reads.

`account set` and `account show` change and read the account with `change_account` and
`account_info_of` (the functions the running service uses, over the profile alone).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

from tui_omemo.model import Namespace
from tui_omemo.protocol.elements import DeviceList, WireBundle
from tui_omemo.protocol.engine import Engine
from tui_omemo.protocol.errors import BundleUnavailable
from tui_omemo.protocol.ports import JsonObject, StateChanges
from tui_omemo.protocol.verification import format_fingerprint
from tui_omemo.service.account import account_info, apply_change
from tui_omemo.service.api import AccountChange, AccountInfo
from tui_omemo.service.certificate_pin import set_certificate_pin
from tui_omemo.service.state import apply_state_changes, load_state
from tui_omemo.store import Account, Database, UnitOfWork


@dataclass(frozen=True, slots=True)
class CreatedAccount:
    """What `account add` made: the JID, the device id and its fingerprint."""

    jid: str
    device_id: int
    fingerprint: str


class AccountExists(Exception):
    """The profile already holds an account (nothing was changed)."""

    def __init__(self, directory: object, jid: str) -> None:
        super().__init__(f"the profile {directory} already holds the account {jid}")
        self.directory = directory
        self.jid = jid


class NoAccount(Exception):
    """The profile holds no account yet (nothing was changed)."""

    def __init__(self, directory: object) -> None:
        super().__init__(f"the profile {directory} has no account yet")
        self.directory = directory


class UnitOfWorkStateStore:
    """The protocol core's state, read and written inside one caller-held unit of work."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def load(self, key: str) -> JsonObject | None:
        """The value under `key`, or None."""
        return load_state(self._uow, key)

    async def store(self, key: str, value: JsonObject) -> None:
        """Store `value` under `key` (committed with the caller's unit of work)."""
        changes = StateChanges()
        changes.put(key, value)
        apply_state_changes(self._uow, changes)

    async def delete(self, key: str) -> None:
        """Forget `key` (no error when absent)."""
        changes = StateChanges()
        changes.delete(key)
        apply_state_changes(self._uow, changes)


class _OfflineDirectory:
    """A `Directory` for creating an identity without a server: nothing is published."""

    async def fetch_bundle(self, namespace: Namespace, bare_jid: str, device_id: int) -> WireBundle:
        raise BundleUnavailable(f"offline: no bundle for {bare_jid}/{device_id}")

    async def fetch_device_list(self, namespace: Namespace, bare_jid: str) -> DeviceList:
        raise BundleUnavailable("offline: no device list")


def create_account(
    database: Database, account: Account, *, certificate_pin: str | None = None
) -> CreatedAccount:
    """Save `account` (and the certificate pin) and create the OMEMO identity, in one
    transaction.

    Raises:
        AccountExists: the profile already holds an account (nothing is changed).
        StoreError, ProtocolError: the transaction failed (it is rolled back).
    """
    with database.unit_of_work() as uow:
        existing = uow.account.get()
        if existing is not None:
            raise AccountExists(database.directory, existing.jid)
        uow.account.save(account)
        set_certificate_pin(uow, certificate_pin)
        engine = asyncio.run(
            Engine.create(
                account.jid,
                UnitOfWorkStateStore(uow),
                _OfflineDirectory(),
                taken_device_ids=(),
            )
        )
    return CreatedAccount(
        account.jid, engine.device_id, format_fingerprint(engine.identity_key.hex())
    )


def stored_account(database: Database) -> Account | None:
    """The profile's account row, or None before `account add`."""
    with database.snapshot() as uow:
        return uow.account.get()


def correct_account(database: Database, account: Account, created_at: int) -> None:
    """Replace the account row by `account`, keeping when the account was first made."""
    with database.unit_of_work() as uow:
        uow.account.save(replace(account, created_at=created_at))


def change_account(database: Database, change: AccountChange) -> AccountInfo:
    """Apply `change` to the profile's account in one unit of work; the account as stored.

    Raises:
        NoAccount: the profile holds no account yet.
        ValueError: the change is refused (the reason; nothing is changed).
    """
    with database.unit_of_work() as uow:
        if uow.account.get() is None:
            raise NoAccount(database.directory)
        apply_change(uow, change)
    return account_info_of(database)


def account_info_of(database: Database) -> AccountInfo:
    """The account, this device and our other devices, as stored.

    Raises:
        ValueError: the profile holds no account or no identity.
    """
    with database.snapshot() as uow:
        return account_info(uow)
