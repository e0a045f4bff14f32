"""Store benchmark: SQLCipher (as the app uses it) beside plain stdlib sqlite3, as a ratio.

Run on demand: ``python -m benchmarks.store [--messages N] [--per-message N]``.

Both sides run the same store code, schema, pragmas and statements: the plain side wraps a
stdlib ``sqlite3`` connection with `Database.attach`. Measured:

- opening a profile with the keyring's raw key and with a typed passphrase (KDF), beside
  opening the same schema with plain sqlite3 (the keyring here is in memory: a real Secret
  Service adds its D-Bus round trip);
- appending N messages batched (1,000 per unit of work);
- one unit of work per message, as the inbound pipeline does it: archive row + dedupe key +
  a session state write + an inbox deletion;
- a page of 100 older messages, and an FTS search, at N rows.

Targets (issue 2): keyring open < 5 ms; per-message unit of work ≤ 2.5×; paging and search
≤ 1.5× plain sqlite3.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from tui_omemo.store import (
    Database,
    Direction,
    InboxSource,
    KeyringKeys,
    NewMessage,
    PageCursor,
    open_profile,
)

PASSPHRASE = "a passphrase someone typed"
PEERS = [f"contact{index}@example.org" for index in range(10)]
BATCH = 1000


class MemoryKeyring:
    """An in-memory keyring backend, so the numbers measure the store, not D-Bus."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.entries.pop((service, username), None)


def words(rng: random.Random) -> list[str]:
    return [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9)))
        for _ in range(5000)
    ]


def messages(count: int, start: int = 0, seed: int = 1) -> Iterator[NewMessage]:
    rng = random.Random(seed)
    vocabulary = words(rng)
    for index in range(start, start + count):
        peer = PEERS[index % len(PEERS)]
        yield NewMessage(
            peer=peer,
            direction=Direction.IN if index % 3 else Direction.OUT,
            sender_bare_jid=peer,
            body=" ".join(rng.choices(vocabulary, k=rng.randint(3, 25))),
            timestamp=1_700_000_000_000 + (index // 3) * 1000,  # equal timestamps on purpose
            received_at=1_700_000_000_000 + index,
            dedupe_keys=(f"stanza-{index}",),
            sender_device=1000 + index % 7,
            omemo_version="2",
            stanza_id=f"stanza-{index}",
        )


def plain(directory: Path) -> Database:
    """The same schema and pragmas over stdlib sqlite3 (no encryption)."""
    directory.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(directory / "plain.db", isolation_level=None)
    return Database.attach(connection, directory)


Pair = tuple[float, float, float]
"""Seconds on SQLCipher, seconds on plain sqlite3, and the ratio between them."""


def interleaved(cipher: Callable[[], object], baseline: Callable[[], object], repeat: int) -> Pair:
    """Median seconds of each action, run alternately so machine load hits both alike.

    The ratio is the median of the per-pair ratios: a load spike slows one pair, not the
    comparison (this machine is shared).
    """
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for side, action in enumerate((cipher, baseline)):
            start = time.perf_counter()
            action()
            samples[side].append(time.perf_counter() - start)
    ratio = statistics.median(a / b for a, b in zip(*samples, strict=True))
    return statistics.median(samples[0]), statistics.median(samples[1]), ratio


def fill(dbs: tuple[Database, Database], count: int) -> Pair:
    """Seconds per message appended in batches of 1,000, batches alternating between sides."""
    totals = [0.0, 0.0]
    batch: list[NewMessage] = []
    for message in messages(count):
        batch.append(message)
        if len(batch) == BATCH or message.dedupe_keys == (f"stanza-{count - 1}",):
            for side, db in enumerate(dbs):
                start = time.perf_counter()
                _append_batch(db, batch)
                totals[side] += time.perf_counter() - start
            batch = []
    return totals[0] / count, totals[1] / count, totals[0] / totals[1]


def _append_batch(db: Database, batch: list[NewMessage]) -> None:
    with db.unit_of_work() as uow:
        for message in batch:
            uow.archive.append(message)


def per_message(dbs: tuple[Database, Database], count: int, start: int) -> Pair:
    """Pipeline units of work; the inbox rows are added beforehand, untimed."""
    inbox_ids = []
    for db in dbs:
        with db.unit_of_work() as uow:
            inbox_ids.append([uow.inbox.add(b"x" * 600, InboxSource.LIVE, 0) for _ in range(count)])
    session_blob = '{"ratchet": "' + "a" * 1500 + '"}'
    work = iter(zip(inbox_ids[0], inbox_ids[1], messages(count, start, seed=2), strict=True))
    current: list[tuple[int, int, NewMessage]] = []

    def unit(side: int) -> None:
        if side == 0:
            current[:] = [next(work)]
        first, second, message = current[0]
        inbox_id = first if side == 0 else second
        with dbs[side].unit_of_work() as uow:
            uow.state.store(f"session/urn:xmpp:omemo:2/{message.peer}/1001", 3, session_blob)
            uow.archive.append(message)
            uow.inbox.delete(inbox_id)

    return interleaved(lambda: unit(0), lambda: unit(1), count)


def paging(dbs: tuple[Database, Database], total: int) -> Pair:
    """A page of 100 messages before a random point of one conversation."""
    rng = random.Random(3)
    cursor = PageCursor(0, 0)

    def one(side: int) -> None:
        nonlocal cursor
        if side == 0:
            cursor = PageCursor(1_700_000_000_000 + rng.randrange(total // 3) * 1000, 10**9)
        with dbs[side].snapshot() as uow:
            assert uow.archive.page(PEERS[0], before=cursor, limit=100).messages

    return interleaved(lambda: one(0), lambda: one(1), 300)


def searching(dbs: tuple[Database, Database], terms: list[str]) -> Pair:
    """One search, cycling through a common prefix and rarer words."""
    queue = iter(terms * 1000)
    term = ""

    def one(side: int) -> None:
        nonlocal term
        if side == 0:
            term = next(queue)
        with dbs[side].snapshot() as uow:
            uow.archive.search(term, limit=50)

    return interleaved(lambda: one(0), lambda: one(1), 10 * len(terms))


def opening(profile: Path, keys: KeyringKeys, passphrase: str | None, plain_dir: Path) -> Pair:
    """Open and close a profile, beside opening the same schema with plain sqlite3."""
    repeat = 20 if passphrase is None else 5
    return interleaved(
        lambda: open_profile(profile, keys, passphrase).close(),
        lambda: plain(plain_dir).close(),
        repeat,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="tui-omemo store benchmark")
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--per-message", type=int, default=5_000)
    args = parser.parse_args()
    rows: list[tuple[str, Pair]] = []
    with tempfile.TemporaryDirectory(prefix="tui-omemo-bench-") as temporary:
        root = Path(temporary)
        keys = KeyringKeys(MemoryKeyring(), service="tui-omemo-benchmark")
        open_profile(root / "passphrase", keys, PASSPHRASE).close()
        dbs = (open_profile(root / "keyring", keys), plain(root / "plain"))
        rows.append(("append batched (per message)", fill(dbs, args.messages)))
        rows.append(("unit of work per message", per_message(dbs, args.per_message, args.messages)))
        rows.append(("page of 100 older", paging(dbs, args.messages)))
        terms = ["a*", *words(random.Random(1))[:20]]  # a common prefix and rarer words
        rows.append(("FTS search (limit 50)", searching(dbs, terms)))
        for db in dbs:
            db.close()
        rows.insert(
            0, ("open, keyring raw key", opening(root / "keyring", keys, None, root / "plain"))
        )
        rows.insert(
            1,
            (
                "open, passphrase (KDF)",
                opening(root / "passphrase", keys, PASSPHRASE, root / "plain"),
            ),
        )
    report(rows, args)


def report(rows: list[tuple[str, Pair]], args: argparse.Namespace) -> None:
    print(f"store benchmark: {args.messages:,} messages, {args.per_message:,} per-message units")
    print(f"SQLCipher vs stdlib sqlite3 {sqlite3.sqlite_version}, same schema and code")
    print(f"{'case':32} {'SQLCipher':>12} {'sqlite3':>12} {'ratio':>7}")
    for name, (cipher, baseline, ratio) in rows:
        print(f"{name:32} {cipher * 1000:9.3f} ms {baseline * 1000:9.3f} ms {ratio:6.2f}×")


if __name__ == "__main__":
    main()
