"""Finding and opening the profile a command works on: directory, then key.

The directory is `--profile DIR`, else ``$TUI_OMEMO_HOME``, else the platform data directory.
An existing profile opens the way it was created (keyring or passphrase). A new profile is
keyed by a passphrase when one is supplied (``$TUI_OMEMO_PASSPHRASE`` or `--passphrase-file`),
else by a random key in the OS keyring; with neither, the command stops with exit status 2
and says how to provide a passphrase.

`open_database` is the one named function through which the commands reach the store: this is
the only module of `tui_omemo.commands` that imports `tui_omemo.store` (the import-linter
contract in pyproject.toml names this exception), lazily and without the service, so that
`--help` loads no store and `history` no service. Everything else the commands read or change
goes through the service (`service.offline`, `service.account_setup` …).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tui_omemo.commands.console import CommandError, Console, UsageError

if TYPE_CHECKING:  # imported where used: `--help` and usage errors never load the store
    from tui_omemo.store import Database

PASSPHRASE_ENV = "TUI_OMEMO_PASSPHRASE"  # noqa: S105 (the variable's name, not a secret)
PASSPHRASE_HINT = (
    f"set {PASSPHRASE_ENV} or pass --passphrase-file FILE (a file holding the passphrase)"
)


@dataclass(frozen=True, slots=True)
class ProfileOptions:
    """The global options that say which profile and which key.

    Attributes:
        profile: `--profile DIR`, or None.
        passphrase_file: `--passphrase-file FILE`, or None.
        typed_passphrase: what the person typed at a prompt (the terminal app asks), or None.
    """

    profile: str | None
    passphrase_file: str | None
    typed_passphrase: str | None = field(default=None, repr=False)


def profile_dir(options: ProfileOptions, console: Console) -> Path:
    """The absolute profile directory for this run."""
    from tui_omemo.store import default_profile_dir

    return default_profile_dir(options.profile, console.environ)


def read_passphrase(options: ProfileOptions, console: Console) -> str | None:
    """The passphrase typed at a prompt, from `--passphrase-file` or the environment, or None.

    One trailing line break of the file is dropped; everything else is kept as typed.

    Raises:
        UsageError: the file cannot be read or is empty.
    """
    if options.typed_passphrase is not None:
        return options.typed_passphrase
    if options.passphrase_file is not None:
        try:
            text = Path(options.passphrase_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise UsageError(
                f"cannot read the passphrase file {options.passphrase_file} "
                f"({type(error).__name__})"
            ) from None
        text = text.removesuffix("\n").removesuffix("\r")
        if not text:
            raise UsageError(f"the passphrase file {options.passphrase_file} is empty")
        return text
    return console.environ.get(PASSPHRASE_ENV) or None


def open_database(options: ProfileOptions, console: Console, *, create: bool = False) -> Database:
    """Open this run's profile (creating it only when `create`).

    Raises:
        CommandError: no profile exists and `create` is False (exit 1); no key can be had
            for the profile (exit 2, with the hint how to supply a passphrase).
        StoreError: as `open_profile` raises it (wrong passphrase, locked, corrupt …).
    """
    from tui_omemo.commands.frontends import borrowed_database

    if (borrowed := borrowed_database()) is not None:
        return borrowed  # served by the running instance (commands.frontends)
    from tui_omemo.store import (
        KeyringKeys,
        KeySource,
        PassphraseRequired,
        inspect_profile,
        open_profile,
    )

    directory = profile_dir(options, console)
    passphrase = read_passphrase(options, console)
    info = inspect_profile(directory)
    if not create and not info.database_exists:
        raise CommandError(
            f"no profile in {directory}: create one with `tui-omemo account add JID`"
        )
    # A passphrase profile never asks the keyring (loading its backends takes a while).
    by_passphrase = info.database_exists and info.key_source is KeySource.PASSPHRASE
    keys = KeyringKeys(None if by_passphrase else console.keyring())
    try:
        return open_profile(directory, keys, passphrase)
    except PassphraseRequired as error:
        message = str(error)
        if PASSPHRASE_ENV not in message:
            message += f"; {PASSPHRASE_HINT}"
        raise CommandError(message, 2) from None
    except ValueError as error:  # the passphrase itself is unusable (NUL character …)
        raise UsageError(f"unusable passphrase: {error}") from None
