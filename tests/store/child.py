"""A child process for the store tests that need a real second process or a real crash.

Run as ``python -m tests.store.child <action> <profile dir>``; the passphrase comes in
``TUI_OMEMO_TEST_PASSPHRASE``. Actions:

- ``crash``: in one unit of work write several archive rows, a state blob and an inbox
  deletion, then die with ``os._exit`` before the commit;
- ``committed-crash``: commit one unit of work (a setting ``after-crash``), then die with
  ``os._exit`` while the profile is open, leaving the commit in the ``-wal`` only;
- ``diskfull``: under a small RLIMIT_FSIZE (SIGXFSZ ignored) write big rows in one unit of
  work; print the exception's class name, then whether the old rows are all still there;
- ``hold``: open the profile, print ``ready``, keep it open until stdin closes;
- ``open``: try to open the profile; print ``opened`` or the exception's class name.
"""

from __future__ import annotations

import os
import resource
import signal
import sys
from pathlib import Path

from tui_omemo.store import Database, Direction, KeyringKeys, NewMessage, StoreError, open_profile


def _open(directory: Path) -> Database:
    return open_profile(directory, KeyringKeys(None), os.environ["TUI_OMEMO_TEST_PASSPHRASE"])


def _message(index: int, body: str) -> NewMessage:
    return NewMessage(
        peer="bob@example.org",
        direction=Direction.IN,
        sender_bare_jid="bob@example.org",
        body=body,
        timestamp=1_700_000_000_000 + index,
        received_at=1_700_000_000_000 + index,
        dedupe_keys=(f"child-{index}",),
    )


def crash(directory: Path) -> None:
    db = _open(directory)
    with db.unit_of_work() as uow:
        for index in range(5):
            uow.archive.append(_message(index, f"never committed {index}"))
        uow.state.store("session/test/bob@example.org/1", 2, '{"chain": "new"}')
        uow.inbox.delete(1)
        sys.stdout.flush()
        os._exit(17)


def committed_crash(directory: Path) -> None:
    db = _open(directory)
    with db.unit_of_work() as uow:
        uow.settings.set("after-crash", "kept")
    os._exit(17)


def diskfull(directory: Path) -> None:
    db = _open(directory)
    with db.snapshot() as uow:
        before = uow.archive.count()
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    database_size = (directory / "tui-omemo.db").stat().st_size
    limit = database_size + 256 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
    try:
        with db.unit_of_work() as uow:
            for index in range(100):
                uow.archive.append(_message(1000 + index, os.urandom(32 * 1024).hex()))
    except StoreError as error:
        print(type(error).__name__, flush=True)
    resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    with db.snapshot() as uow:
        print("unchanged" if uow.archive.count() == before else "changed", flush=True)
    db.close()


def hold(directory: Path) -> None:
    with _open(directory):
        print("ready", flush=True)
        sys.stdin.read()


def try_open(directory: Path) -> None:
    try:
        with _open(directory):
            print("opened", flush=True)
    except StoreError as error:
        print(type(error).__name__, flush=True)


if __name__ == "__main__":
    actions = {
        "crash": crash,
        "committed-crash": committed_crash,
        "diskfull": diskfull,
        "hold": hold,
        "open": try_open,
    }
    actions[sys.argv[1]](Path(sys.argv[2]))
