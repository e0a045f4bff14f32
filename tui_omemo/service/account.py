"""Reading and changing the account: password, server, the loopback-plaintext switch, the label
and the certificate pin.

A change rewrites the account row (and the label and pin settings) in one unit of work and nothing
else: the identity, the sessions, the trust decisions and the archive stay as they are. It is
validated before anything is written, so a refused change leaves the profile untouched.

Two `AccountEditor`s use these functions: the running `OmemoChatService`, and `ProfileAccount`,
which opens the profile for each call and works without a server. That one is what the app
offers after a failed login (no service runs then) and what `tui-omemo account set/show` use.

The label is this device's name on our OMEMO 2 device list (`label`, signed as `labelsig` by
the identity key, XEP-0384 0.9); OMEMO 0.3 lists carry no label. It is kept in the settings
table and published with our device-list entry.
"""

from __future__ import annotations

import asyncio
import ipaddress
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace

from tui_omemo.model import Namespace
from tui_omemo.protocol.elements import DeviceList, DeviceListEntry
from tui_omemo.protocol.identity import IDENTITY_KEY, Identity
from tui_omemo.protocol.verification import format_fingerprint
from tui_omemo.service.api import AccountChange, AccountInfo
from tui_omemo.service.certificate_pin import certificate_pin, check_pin, set_certificate_pin
from tui_omemo.service.devices import ThisDevice, device_infos
from tui_omemo.service.state import load_state
from tui_omemo.store import Account, Database, UnitOfWork

DEFAULT_PORT = 5222
PORT_MAX = 65535
DEVICE_LABEL_KEY = "device_label"
LABEL_MAX = 64
"""The longest label we publish, in characters (it is shown in one line by other clients)."""


@dataclass(frozen=True, slots=True)
class Server:
    """Where to connect: host and port (`--server HOST[:PORT]`)."""

    host: str
    port: int


def parse_server(text: str) -> Server:
    """Parse `HOST`, `HOST:PORT` or `[IPv6]:PORT`.

    Raises:
        ValueError: an empty host or a port that is not 1 … 65535 (the reason in words).
    """
    host, port_text = text, ""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    if not host or any(ch.isspace() for ch in host):
        raise ValueError(f"the server {text!r} has no host")
    if not port_text:
        return Server(host, DEFAULT_PORT)
    if not port_text.isdigit() or not 1 <= int(port_text) <= PORT_MAX:
        raise ValueError(f"the server {text!r}: the port must be a number from 1 to {PORT_MAX}")
    return Server(host, int(port_text))


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine only (localhost, 127.0.0.0/8, ::1)."""
    if host.lower() in {"localhost", "localhost.", "ip6-localhost"}:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_plaintext(account: Account) -> None:
    """Plaintext may only be allowed for a loopback server.

    Raises:
        ValueError: the switch is on for a server that is not this machine.
    """
    host = account.server_host or account.jid.partition("@")[2]
    if account.allow_plaintext_loopback and not is_loopback(host):
        raise ValueError(f"plaintext is only allowed for a loopback server, not {host}")


def check_label(label: str) -> str | None:
    """The label to store: stripped, None for an empty one.

    Raises:
        ValueError: longer than LABEL_MAX, or with control or bidi characters.
    """
    label = label.strip()
    if len(label) > LABEL_MAX:
        raise ValueError(f"the label is longer than {LABEL_MAX} characters")
    if any(unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"} for ch in label):
        raise ValueError("the label must be one line of visible text")
    return label or None


def changed_account(account: Account, change: AccountChange) -> Account:
    """`account` with `change` applied (the label is not part of the row).

    Raises:
        ValueError: an empty password, a bad server, plaintext for a non-loopback server.
    """
    if change.password is not None and not change.password:
        raise ValueError("the password must not be empty")
    if change.password is not None:
        account = replace(account, password=change.password)
    if change.server == "":
        account = replace(account, server_host=None, server_port=None)
    elif change.server is not None:
        server = parse_server(change.server.strip())
        account = replace(account, server_host=server.host, server_port=server.port)
    if change.allow_plaintext_loopback is not None:
        account = replace(account, allow_plaintext_loopback=change.allow_plaintext_loopback)
    check_plaintext(account)
    return account


def apply_change(uow: UnitOfWork, change: AccountChange) -> None:
    """Validate `change` and write it (account row, label, certificate pin) in the caller's
    unit of work.

    Raises:
        ValueError: the change is invalid, or the profile has no account; nothing is written.
    """
    account = uow.account.get()
    if account is None:
        raise ValueError("the profile has no account yet")
    updated = changed_account(account, change)
    label = None if change.label is None else check_label(change.label)
    pin = None if change.certificate_pin is None else check_pin(change.certificate_pin)
    if change.certificate_pin is not None:
        set_certificate_pin(uow, pin)
    if updated != account:
        uow.account.save(updated)
    if change.label is not None:
        if label is None:
            uow.settings.delete(DEVICE_LABEL_KEY)
        else:
            uow.settings.set(DEVICE_LABEL_KEY, label)


def device_label(uow: UnitOfWork) -> str | None:
    """This device's label, or None."""
    value = uow.settings.get(DEVICE_LABEL_KEY)
    return value if isinstance(value, str) and value else None


def this_device(uow: UnitOfWork, own_jid: str) -> ThisDevice:
    """Our device id and identity key, read from the stored identity.

    Raises:
        ValueError: the profile holds no OMEMO identity.
    """
    stored = load_state(uow, IDENTITY_KEY)
    if stored is None:
        raise ValueError("the profile holds no OMEMO identity")
    identity = Identity.from_json(stored)
    return ThisDevice(own_jid, identity.device_id, identity.identity_key_curve25519)


def account_info(uow: UnitOfWork) -> AccountInfo:
    """The account, this device and our other devices, as stored.

    Raises:
        ValueError: the profile has no account or no identity.
    """
    account = uow.account.get()
    if account is None:
        raise ValueError("the profile has no account yet")
    here = this_device(uow, account.jid)
    others = tuple(d for d in device_infos(uow, account.jid, here) if not d.this_device)
    return AccountInfo(
        jid=account.jid,
        device_id=here.device_id,
        fingerprint=format_fingerprint(here.identity_key.hex()),
        label=device_label(uow),
        server_host=account.server_host,
        server_port=account.server_port,
        allow_plaintext_loopback=account.allow_plaintext_loopback,
        has_password=bool(account.password),
        other_devices=others,
        certificate_pin=certificate_pin(uow),
    )


def own_entry(
    namespace: Namespace,
    device_id: int,
    label: str | None,
    sign: Callable[[str], bytes],
    server: DeviceList | None,
) -> DeviceListEntry:
    """Our entry on our own device list of `namespace`: with the signed label in OMEMO 2.

    The server's entry is kept when it already carries this label (a signature is not made
    again, so an unchanged list is not published again).
    """
    if label is None or namespace is Namespace.LEGACY:
        return DeviceListEntry(device_id)
    for entry in server.devices if server is not None else ():
        if entry.device_id == device_id and entry.label == label and entry.label_signature:
            return entry
    return DeviceListEntry(device_id, label, sign(label))


class ProfileAccount:
    """An `AccountEditor` over the profile itself, for when no service runs.

    Each call opens the profile (off the event loop: the key derivation is slow), reads or
    writes in one unit of work and closes it again.
    """

    def __init__(self, open_database: Callable[[], Database]) -> None:
        self._open_database = open_database

    async def account(self) -> AccountInfo:
        """The account, this device and our other devices, as stored."""
        return await asyncio.to_thread(self._read)

    async def update_account(self, change: AccountChange) -> AccountInfo:
        """Apply `change` (raises ValueError with the reason; nothing is changed then)."""
        return await asyncio.to_thread(self._write, change)

    def _read(self) -> AccountInfo:
        with self._open_database() as database, database.snapshot() as uow:
            return account_info(uow)

    def _write(self, change: AccountChange) -> AccountInfo:
        with self._open_database() as database:
            with database.unit_of_work() as uow:
                apply_change(uow, change)
            with database.snapshot() as uow:
                return account_info(uow)
