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
- a received message as the inbound pipeline commits it (``received``): the inbox row in a
  commit of its own, then one unit of work that reads the sender's identities, touches the
  device, archives the row with its dedupe key, deletes the inbox row, moves the MAM position
  and writes a session whose bytes all changed (a ratchet step rewrites its keys). Besides
  the time per commit it reports the WAL frames (pages) each commit writes: SQLCipher
  encrypts and MACs every one of them, so pages per commit is what a commit costs;
- a page of 100 older messages, and an FTS search, at N rows.

Targets (issue 2): keyring open < 5 ms; per-message unit of work ≤ 2.5×; paging and search
≤ 1.5× plain sqlite3.
"""

from __future__ import annotations

import argparse
import base64
import random
import sqlite3
import statistics
import struct
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import sqlcipher3

from tui_omemo.model import Arrival, Namespace
from tui_omemo.store import (
    Database,
    Direction,
    KeyringKeys,
    NewMessage,
    PageCursor,
    UnitOfWork,
    open_profile,
)
from tui_omemo.store.passphrase import RawKey
from tui_omemo.store.sql import Connection

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
            inbox_ids.append([uow.inbox.add(b"x" * 600, Arrival.LIVE, 0) for _ in range(count)])
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


SESSION_BYTES = 1500
"""About the size of a serialised double-ratchet session (JSON, base64 keys)."""
DEVICE = 1001


def session_blob(rng: random.Random) -> str:
    """A session value whose bytes all differ from the previous one, as after a ratchet step."""
    key_material = base64.b64encode(rng.randbytes(SESSION_BYTES * 3 // 4)).decode()
    return '{"ratchet":"' + key_material + '","version":3}'


def session_key(peer: str) -> str:
    return f"session/{Namespace.V2.value}/{peer}/{DEVICE}"


def prepare_received(db: Database) -> None:
    """The rows a received message touches besides the archive: device, session, position."""
    rng = random.Random(4)
    with db.unit_of_work() as uow:
        for peer in PEERS:
            uow.devices.apply_device_list(Namespace.V2, peer, [DEVICE], now=0)
            uow.state.store(session_key(peer), 3, session_blob(rng))
        uow.settings.set("mam/last_stanza_id", "stanza-0")


def receive_unit(uow: UnitOfWork, message: NewMessage, inbox_id: int, session: str) -> None:
    """What the inbound pipeline writes for one decrypted 1:1 message, in one unit of work."""
    uow.trust.identities(message.peer)
    uow.devices.touch_message(Namespace.V2, message.peer, DEVICE, message.received_at)
    archive_id = uow.archive.append(message)
    uow.inbox.delete(inbox_id)
    uow.settings.set("mam/last_stanza_id", message.stanza_id)
    uow.archive.get(archive_id)
    uow.state.store(session_key(message.peer), 3, session)


def received(dbs: tuple[Database, Database], count: int, start: int) -> Pair:
    """Seconds per received-message commit: the inbox row goes in first (its own commit,
    untimed, as the pipeline writes it before decrypting), then the timed unit of work."""
    rng = random.Random(5)
    work = iter(messages(count, start, seed=3))
    current: list[tuple[NewMessage, str]] = []
    inbox_ids = [0, 0]

    def unit(side: int) -> Callable[[], None]:
        with dbs[side].unit_of_work() as uow:
            inbox_ids[side] = uow.inbox.add(b"x" * 600, Arrival.LIVE, 0)
        if side == 0:
            current[:] = [(next(work), session_blob(rng))]
        message, session = current[0]

        def commit() -> None:
            with dbs[side].unit_of_work() as uow:
                receive_unit(uow, message, inbox_ids[side], session)

        return commit

    return interleaved_prepared(lambda: unit(0), lambda: unit(1), count)


def interleaved_prepared(
    cipher: Callable[[], Callable[[], object]],
    baseline: Callable[[], Callable[[], object]],
    repeat: int,
) -> Pair:
    """Like `interleaved`, for actions that need an untimed preparation each time."""
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for side, prepare in enumerate((cipher, baseline)):
            action = prepare()
            begin = time.perf_counter()
            action()
            samples[side].append(time.perf_counter() - begin)
    ratio = statistics.median(a / b for a, b in zip(*samples, strict=True))
    return statistics.median(samples[0]), statistics.median(samples[1]), ratio


def frame_sides(root: Path) -> list[tuple[Database, Connection, Path]]:
    """A fresh SQLCipher database (keyed like a keyring profile) and a plain one, same pragmas
    and schema, with their connections at hand for the WAL settings (`open_profile` keeps
    its connection private)."""
    sides: list[tuple[Database, Connection, Path]] = []
    for name in ("frames-cipher", "frames-plain"):
        directory = root / name
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "frames.db"
        connection: Connection
        if name == "frames-cipher":
            connection = sqlcipher3.connect(str(path), isolation_level=None)
            connection.execute(RawKey.generate().pragma())
        else:
            connection = sqlite3.connect(path, isolation_level=None)
        sides.append((Database.attach(connection, directory), connection, path))
    return sides


def wal_commits(wal: Path) -> list[int]:
    """The number of frames (pages) of each commit in a WAL file, in order."""
    data = wal.read_bytes()
    page_size = struct.unpack(">I", data[8:12])[0]
    commits, frames, offset = [], 0, 32
    while offset + 24 + page_size <= len(data):
        frames += 1
        if struct.unpack(">I", data[offset + 4 : offset + 8])[0]:  # a commit's last frame
            commits.append(frames)
            frames = 0
        offset += 24 + page_size
    return commits


def pages_per_commit(root: Path, history: int, count: int) -> tuple[float, float]:
    """Mean WAL frames per received-message commit (SQLCipher, plain) after `history`
    archived messages; automatic checkpoints are off for the sample so the WAL keeps every
    frame written."""
    result = []
    for db, connection, path in frame_sides(root):
        prepare_received(db)
        for first in range(0, history, BATCH):
            _append_batch(db, list(messages(min(BATCH, history - first), first)))
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.execute("PRAGMA wal_autocheckpoint = 0")
        rng = random.Random(6)
        for message in messages(count, history, seed=3):
            with db.unit_of_work() as uow:
                inbox_id = uow.inbox.add(b"x" * 600, Arrival.LIVE, 0)
            with db.unit_of_work() as uow:
                receive_unit(uow, message, inbox_id, session_blob(rng))
        commits = wal_commits(path.with_name(path.name + "-wal"))
        result.append(statistics.mean(commits[1::2]))  # every other commit adds the inbox row
        db.close()
    return result[0], result[1]


def paging(dbs: tuple[Database, Database], total: int) -> Pair:
    """A page of 100 messages before a random point of one conversation."""
    rng = random.Random(3)
    cursor = PageCursor(0, 0)

    def one(side: int) -> None:
        nonlocal cursor
        if side == 0:
            cursor = PageCursor(rng.randrange(total // 3), 10**9)  # (seq, id): arrival order
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
    parser.add_argument(
        "--frames-history", type=int, default=20_000, help="archive size for the page count"
    )
    args = parser.parse_args()
    rows: list[tuple[str, Pair]] = []
    with tempfile.TemporaryDirectory(prefix="tui-omemo-bench-") as temporary:
        root = Path(temporary)
        keys = KeyringKeys(MemoryKeyring(), service="tui-omemo-benchmark")
        open_profile(root / "passphrase", keys, PASSPHRASE).close()
        dbs = (open_profile(root / "keyring", keys), plain(root / "plain"))
        rows.append(("append batched (per message)", fill(dbs, args.messages)))
        rows.append(("unit of work per message", per_message(dbs, args.per_message, args.messages)))
        for db in dbs:
            prepare_received(db)
        first = args.messages + args.per_message
        rows.append(("received message (commit)", received(dbs, args.per_message, first)))
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
        frames = pages_per_commit(root, args.frames_history, 500)
    report(rows, frames, args)


def report(
    rows: list[tuple[str, Pair]], frames: tuple[float, float], args: argparse.Namespace
) -> None:
    print(f"store benchmark: {args.messages:,} messages, {args.per_message:,} per-message units")
    print(f"SQLCipher vs stdlib sqlite3 {sqlite3.sqlite_version}, same schema and code")
    print(f"{'case':32} {'SQLCipher':>12} {'sqlite3':>12} {'ratio':>7}")
    for name, (cipher, baseline, ratio) in rows:
        print(f"{name:32} {cipher * 1000:9.3f} ms {baseline * 1000:9.3f} ms {ratio:6.2f}×")
    print(
        f"pages (WAL frames) per received-message commit at {args.frames_history:,} messages: "
        f"SQLCipher {frames[0]:.2f}, sqlite3 {frames[1]:.2f}"
    )


if __name__ == "__main__":
    main()
