"""The demo behind `bash scripts/demo.sh`: two people chatting over OMEMO through a local Prosody.

1. Starts Prosody on 127.0.0.1 with a throwaway config (`devtools.prosody.ProsodyServer`).
2. Registers two accounts, the user (alice) and an echo contact (bob), and creates both
   profiles with `tui-omemo account add --allow-plaintext-loopback`: the database key goes to
   the OS keyring when one works, else a random passphrase is passed in the environment.
3. Makes them contacts (mutual presence subscription).
4. Runs `tui-omemo listen --echo` as bob in the background.
5. On a terminal: opens the terminal app as alice with bob in the roster, this narration (who
   is who, the fingerprints to compare) in its welcome panel. Without a terminal
   (CI, tests, or TUI_OMEMO_DEMO_NONINTERACTIVE=1), or while the app is not built yet: prints
   alice's device and fingerprint, sends bob an encrypted message in each OMEMO version with
   `tui-omemo send`, and prints bob's encrypted echo as it arrives in alice's archive.

Everything it started (Prosody, the echo listener, the temporary directory, keyring entries)
is stopped and removed on the way out, also on Ctrl+C or SIGTERM. Exit status 0 on success.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib.util
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devtools.prosody import ProsodyServer  # noqa: E402 (needs ROOT on sys.path)
from tui_omemo.commands.file_args import DOWNLOADS_ENV  # noqa: E402 (needs ROOT on sys.path)

NONINTERACTIVE_ENV = "TUI_OMEMO_DEMO_NONINTERACTIVE"
ECHO_READY = "listening as"
STEP_TIMEOUT = 60.0


def say(text: str) -> None:
    """One line of demo narration on stdout."""
    print(f"demo: {text}", flush=True)


@dataclass
class Person:
    """One account of the demo and its profile."""

    name: str
    jid: str
    password: str
    profile: Path


@dataclass
class Demo:
    """What the demo started, so that `stop` can take all of it down again."""

    workdir: Path
    env: dict[str, str]
    server: ProsodyServer | None = None
    echo: subprocess.Popen[str] | None = None
    keyring_profiles: list[Path] = field(default_factory=list)
    use_keyring: bool = False

    def cli(self, person: Person, *args: str) -> list[str]:
        """The command line of `tui-omemo --profile <person's profile> ARGS…`."""
        return [sys.executable, "-m", "tui_omemo.cli", "--profile", str(person.profile), *args]

    def run(
        self, person: Person, *args: str, stdin: str = "", timeout: float = STEP_TIMEOUT
    ) -> str:
        """Run a tui-omemo command to completion; its stdout, or exit with its error."""
        result = _finish(
            subprocess.Popen(
                self.cli(person, *args),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=self.env,
                cwd=ROOT,
            ),
            stdin,
            timeout,
        )
        if result.returncode != 0:
            raise DemoFailed(
                f"`tui-omemo {' '.join(args)}` as {person.name} failed "
                f"({result.returncode}): {result.stderr.strip()}"
            )
        return result.stdout

    def stop(self) -> None:
        """Stop the echo listener and Prosody, forget keyring entries, remove the files."""
        if self.echo is not None and self.echo.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.echo.pid, signal.SIGTERM)
            try:
                self.echo.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.echo.pid, signal.SIGKILL)
                self.echo.wait(timeout=10)
        if self.server is not None:
            self.server.stop()
        _kill_own_children()
        for profile in self.keyring_profiles:
            _forget_keyring_entry(profile)
        shutil.rmtree(self.workdir, ignore_errors=True)


def _finish(
    process: subprocess.Popen[str], stdin: str, timeout: float
) -> subprocess.CompletedProcess[str]:
    """Wait for a child; on Ctrl+C, SIGTERM or a timeout it is killed *and reaped* first
    (`subprocess.run` leaves that to chance on KeyboardInterrupt)."""
    try:
        out, err = process.communicate(stdin, timeout=timeout)
    except BaseException:
        process.kill()
        process.wait()
        raise
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def _kill_own_children() -> None:
    """Kill and reap any child process still there: one started just as Ctrl+C arrived (inside
    `Popen()`, before it could be recorded) would otherwise outlive the demo. Linux: /proc."""
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])  # after "pid (comm) state"
        if parent == me:
            with contextlib.suppress(ProcessLookupError, ChildProcessError):
                os.kill(int(entry.name), signal.SIGKILL)
                os.waitpid(int(entry.name), 0)


class DemoFailed(Exception):
    """A step of the demo failed; the message says which and why."""


def _keyring_works() -> bool:
    """Whether the OS keyring really stores and returns a secret (a probe entry, removed)."""
    from tui_omemo.commands.console import default_keyring
    from tui_omemo.store import KeyringKeys

    backend = default_keyring()
    if backend is None or not KeyringKeys(backend).usable:
        return False
    service, user = "tui-omemo-demo-probe", secrets.token_hex(8)
    try:
        backend.set_password(service, user, "probe")
        works = backend.get_password(service, user) == "probe"
        backend.delete_password(service, user)
    except Exception:  # any backend failure means: no keyring
        return False
    return works


def _forget_keyring_entry(profile: Path) -> None:
    from tui_omemo.commands.console import default_keyring
    from tui_omemo.store import KeyringKeys, keyring_entry

    with contextlib.suppress(Exception):
        entry = keyring_entry(profile)  # the profile id from profile.json
        if entry is not None:
            KeyringKeys(default_keyring()).delete(entry)


def interactive() -> bool:
    """Whether to open the terminal app (a terminal on both ends, not switched off)."""
    if os.environ.get(NONINTERACTIVE_ENV, "") not in ("", "0"):
        return False
    return sys.stdin.isatty() and sys.stdout.isatty()


def app_available() -> bool:
    """Whether the Textual app (`tui_omemo.ui.app`) exists in this checkout."""
    try:
        return importlib.util.find_spec("tui_omemo.ui.app") is not None
    except ImportError:
        return False


def create_profile(demo: Demo, person: Person) -> dict[str, str]:
    """`account add` for one person; returns the printed fields (account, device, fingerprint)."""
    assert demo.server is not None
    output = demo.run(
        person,
        "account", "add", person.jid,
        "--server", f"{demo.server.host}:{demo.server.port}",
        "--password-stdin", "--allow-plaintext-loopback",
        stdin=person.password + "\n",
    )  # fmt: skip
    if demo.use_keyring:
        demo.keyring_profiles.append(person.profile)
    fields: dict[str, str] = {}
    for line in output.splitlines():
        key, _, value = line.partition(": ")
        fields[key] = value
    return fields


async def _subscribe_both(server: ProsodyServer, alice: Person, bob: Person) -> None:
    """Log both in with `XmppClient` and make them contacts: each adds the other (Alice's
    approval is a pre-approval, Bob's answers her request), so both rosters end at "both"."""
    from tui_omemo.xmpp.client import XmppClient

    people = (alice, bob)
    clients = [
        XmppClient(
            person.jid,
            person.password,
            host=server.host,
            port=server.port,
            allow_plaintext_loopback=True,
            reconnect=False,
        )
        for person in people
    ]
    try:
        for client in clients:
            await client.connect(STEP_TIMEOUT)
        await clients[0].add_contact(bob.jid)
        await clients[1].add_contact(alice.jid)
        deadline = time.monotonic() + STEP_TIMEOUT
        while time.monotonic() < deadline:
            states = [
                {entry.bare_jid: entry.subscription for entry in await client.roster()}
                for client in clients
            ]
            if states[0].get(bob.jid) == "both" and states[1].get(alice.jid) == "both":
                return
            await asyncio.sleep(0.1)
        raise DemoFailed("the presence subscription between the two accounts did not complete")
    finally:
        for client in clients:
            await client.disconnect()


def make_contacts(demo: Demo, alice: Person, bob: Person) -> None:
    """Put each person in the other's roster with a mutual presence subscription."""
    assert demo.server is not None
    asyncio.run(_subscribe_both(demo.server, alice, bob))


def start_echo(demo: Demo, bob: Person) -> None:
    """Run `tui-omemo listen --echo` as bob and wait until it is connected and caught up."""
    demo.echo = subprocess.Popen(
        demo.cli(bob, "listen", "--echo"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=demo.env,
        cwd=ROOT,
        start_new_session=True,
    )
    ready = threading.Event()
    last: list[str] = []

    def watch(stream: Iterator[str]) -> None:
        for line in stream:
            last[:] = [line.strip()]
            if ECHO_READY in line:
                ready.set()

    assert demo.echo.stderr is not None
    threading.Thread(target=watch, args=(demo.echo.stderr,), daemon=True).start()
    deadline = time.monotonic() + STEP_TIMEOUT
    while not ready.wait(0.1):
        if demo.echo.poll() is not None or time.monotonic() > deadline:
            detail = last[0] if last else "no output"
            raise DemoFailed(f"the echo listener did not come up: {detail}")


def scripted_exchange(demo: Demo, alice: Person, bob: Person) -> None:
    """Send bob one encrypted message per OMEMO version and print the encrypted echo.

    The echo can reach alice while her `send` is still connected (it is archived then), or
    later (then the next command catches it up), so it is read back from her archive.
    """
    for version in ("2", "0.3"):
        text = f"hello over OMEMO {version} from the demo"
        say(f"alice → bob (OMEMO {version}): {text}")
        sent = demo.run(alice, "send", bob.jid, text, "--omemo", version, "--timeout", "30")
        for line in sent.splitlines():
            say(f"  {line}")
        echo = wait_for_echo(demo, alice, bob, f"echo: {text}")
        say(
            f"bob → alice (OMEMO {echo['omemo']}, device {echo['device']}, "
            f"trust {echo['trust']}): {echo['text']}"
        )
        if echo["omemo"] != version:
            raise DemoFailed(f"the echo came back with OMEMO {echo['omemo']}, not {version}")


def file_round_trip(demo: Demo, alice: Person, bob: Person) -> None:
    """Send bob a file, encrypted (XEP-0454 over Prosody's HTTP upload); bob's echo names the
    SHA-256 of what he downloaded and decrypted, which must be the file's."""
    sample = demo.workdir / "demo-note.txt"
    sample.write_text("a file for bob, encrypted before it left alice's machine\n" * 100)
    digest = hashlib.sha256(sample.read_bytes()).hexdigest()
    say(f"alice → bob: {sample.name}, encrypted and uploaded (send-file); SHA-256 {digest}")
    demo.run(alice, "send-file", bob.jid, str(sample), "--timeout", "60")
    deadline = time.monotonic() + STEP_TIMEOUT
    while time.monotonic() < deadline:
        demo.run(alice, "listen", "--timeout", "2")
        for line in demo.run(alice, "history", bob.jid, "--json", "--limit", "3").splitlines():
            row: dict[str, object] = json.loads(line)
            if row["direction"] == "in" and digest in str(row["text"]):
                say(f"bob → alice: {row['text']}")
                return
    raise DemoFailed(f"no file echo from bob within {STEP_TIMEOUT:g} s")


def wait_for_echo(demo: Demo, alice: Person, bob: Person, expected: str) -> dict[str, object]:
    """Bob's echo as alice archived it; alice catches up while looking (`listen`)."""
    deadline = time.monotonic() + STEP_TIMEOUT
    while time.monotonic() < deadline:
        demo.run(alice, "listen", "--timeout", "2")
        history = demo.run(alice, "history", bob.jid, "--json", "--limit", "10")
        for line in history.splitlines():
            row: dict[str, object] = json.loads(line)
            if row["direction"] == "in" and row["text"] == expected:
                return row
    raise DemoFailed(f"no echo from bob within {STEP_TIMEOUT:g} s")


def welcome_note(alice: Person, bob: Person, prints: dict[str, str]) -> str:
    """The narration the app shows in its welcome panel: who is who, what to compare."""

    def two_lines(fingerprint: str) -> str:
        parts = fingerprint.split()
        return f"  {' '.join(parts[:4])}\n  {' '.join(parts[4:])}"

    return "\n".join(
        [
            f"You are alice ({alice.jid}). Bob ({bob.jid}) is a demo contact on this machine "
            "who answers every message with 'echo: …', encrypted with OMEMO.",
            "",
            "Bob's device has this fingerprint (the key bob's own profile made):",
            two_lines(prints.get("bob", "")),
            "Ctrl+T opens the trust manager: highlight bob's device, press v and compare it with "
            "the one above, group by group, then confirm. Your own fingerprint:",
            two_lines(prints.get("alice", "")),
            "",
            "Type below and press Enter to send. F1 lists the keys of every screen, Ctrl+P every "
            "action; Ctrl+Q quits and stops the demo.",
        ]
    )


def open_app(demo: Demo, alice: Person, bob: Person, note: str = "") -> int:
    """Run the terminal app as alice with the chat with bob open (the narration `note` in
    its welcome panel); its exit status."""
    say("opening the terminal app as alice (quit with Ctrl+Q)")
    if note:
        welcome = demo.workdir / "welcome.txt"
        welcome.write_text(note, encoding="utf-8")
        demo.env["TUI_OMEMO_WELCOME_FILE"] = str(welcome)
    app = subprocess.Popen(demo.cli(alice, "open", bob.jid), env=demo.env, cwd=ROOT)
    try:
        return app.wait()
    except BaseException:
        app.kill()
        app.wait()
        raise


def run(demo: Demo) -> int:
    """The demo's steps; raises DemoFailed with the reason when one fails."""
    say(f"workdir {demo.workdir}")
    say(f"downloads go to {demo.env[DOWNLOADS_ENV]} (removed with the rest when the demo ends)")
    say("starting Prosody on 127.0.0.1 (throwaway config)")
    demo.server = ProsodyServer.start(demo.workdir / "prosody")
    say(f"Prosody is listening on {demo.server.host}:{demo.server.port}")
    people = []
    for name in ("alice", "bob"):
        jid, password = demo.server.create_account(f"{name}{secrets.token_hex(2)}")
        people.append(Person(name, jid, password, demo.workdir / f"profile-{name}"))
    alice, bob = people
    key_source = "the OS keyring" if demo.use_keyring else "a passphrase (no usable keyring)"
    say(f"creating the encrypted profiles; database keys in {key_source}")
    prints: dict[str, str] = {}
    for person in people:
        fields = create_profile(demo, person)
        prints[person.name] = fields.get("fingerprint", "")
        say(f"{person.name}: {fields.get('account')}  device {fields.get('device')}")
        say(f"{person.name}: fingerprint {fields.get('fingerprint')}")
    make_contacts(demo, alice, bob)
    say(f"{alice.jid} and {bob.jid} are contacts")
    start_echo(demo, bob)
    say(f"bob answers every message with 'echo: …' (tui-omemo listen --echo as {bob.jid})")
    for line in demo.run(alice, "devices", bob.jid).splitlines():
        say(f"alice sees bob's device: {line}")
    if interactive() and app_available():
        return open_app(demo, alice, bob, welcome_note(alice, bob, prints))
    scripted_exchange(demo, alice, bob)
    file_round_trip(demo, alice, bob)  # issue 18
    say("done: both messages, the file and the echoes were end-to-end encrypted")
    return 0


def _raise_interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signum)


def main() -> int:
    """Run the demo and always clean up; 0 on success, 1 on failure, 130 on Ctrl+C."""
    signal.signal(signal.SIGTERM, _raise_interrupt)
    workdir = Path(tempfile.mkdtemp(prefix="tui-omemo-demo-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUI_OMEMO_")}
    env["PYTHONPATH"] = str(ROOT)
    env[DOWNLOADS_ENV] = str(workdir / "downloads")  # never the user's own Downloads
    demo = Demo(workdir, env, use_keyring=_keyring_works())
    if not demo.use_keyring:
        env["TUI_OMEMO_PASSPHRASE"] = secrets.token_urlsafe(24)
        env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    try:
        return run(demo)
    except DemoFailed as error:
        print(f"demo: failed: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("demo: interrupted", file=sys.stderr)
        return 130
    finally:
        say("stopping the echo listener and Prosody")
        demo.stop()


if __name__ == "__main__":
    sys.exit(main())
