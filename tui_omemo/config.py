"""User settings: the OMEMO options of DESIGN.md §4, with defaults, explanations and validation.

`Settings` is a frozen value built once by the composition root and handed down through
constructors. Each option carries a one-line explanation in its field metadata; `SETTINGS_HELP`
exposes them for the settings screen and `tui-omemo settings`. `to_json`/`from_json` give the
dict the store keeps, and `with_value` applies one `settings KEY VALUE` typed on the command line.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, get_args

TrustModeName = Literal["btbv", "manual"]
"""The values of `protocol.trust.TrustMode`, kept as text so that config (which the UI imports)
pulls in nothing of the protocol layer; `TrustMode(settings.trust_mode)` converts."""

TRUST_MODES: tuple[str, ...] = get_args(TrustModeName)

ShowName = Literal["online", "away", "dnd", "xa"]
"""Our availability as contacts see it (XMPP `<show>`; online sends none)."""

SHOWS: tuple[str, ...] = get_args(ShowName)
STATUS_MESSAGE_MAX = 200
"""Characters of our own status message (one line)."""

SETTINGS_VERSION = 1
_VERSION_KEY = "version"
_TRUE_WORDS = frozenset({"true", "on", "yes", "1"})
_FALSE_WORDS = frozenset({"false", "off", "no", "0"})


def _help(explanation: str) -> Mapping[str, str]:
    """Field metadata holding an option's one-line explanation."""
    return {"help": explanation}


@dataclass(frozen=True, slots=True)
class Settings:
    """The OMEMO options of one account profile (DESIGN.md §4, after smack-omemo's configuration).

    Every hour count is at least 1 and `signed_prekey_keep` at least 1; `__post_init__` checks
    types and ranges, so a `Settings` value is always valid.
    """

    ignore_stale_devices: bool = field(
        default=True,
        metadata=_help("Stop encrypting for own devices silent for longer than Stale after hours."),
    )
    stale_after_hours: int = field(
        default=24 * 7,
        metadata=_help("Hours of silence after which an own device counts as stale."),
    )
    delete_stale_devices: bool = field(
        default=False,
        metadata=_help("Remove own stale devices from our device list (shown as a preview first)."),
    )
    delete_stale_after_hours: int = field(
        default=24 * 30,
        metadata=_help(
            "Hours of silence after which an own device is removed from the device list."
        ),
    )
    renew_signed_prekey: bool = field(
        default=True, metadata=_help("Rotate the signed prekey regularly.")
    )
    renew_signed_prekey_after_hours: int = field(
        default=24 * 7, metadata=_help("Hours between two signed prekey rotations.")
    )
    signed_prekey_keep: int = field(
        default=3,
        metadata=_help("How many old signed prekeys to keep for messages that arrive late."),
    )
    add_body_hint: bool = field(
        default=True,
        metadata=_help(
            "Add a plaintext body telling clients without OMEMO that the message is encrypted."
        ),
    )
    repair_broken_sessions: bool = field(
        default=False,
        metadata=_help("Answer an undecryptable message with a fresh key exchange (rate-limited)."),
    )
    complete_session_with_empty_message: bool = field(
        default=True,
        metadata=_help(
            "Answer a key exchange with an empty message so the sender stops repeating it."
        ),
    )
    trust_mode: TrustModeName = field(
        default="btbv",
        metadata=_help(
            "btbv: new devices are trusted until you decide on one; manual: only verified ones."
        ),
    )
    show: ShowName = field(
        default="online",
        metadata=_help("Your availability for contacts: online, away, dnd (busy), xa (long away)."),
    )
    status_message: str = field(
        default="", metadata=_help("Your status message for contacts (empty: none).")
    )
    notify_message_text: bool = field(
        default=False,
        metadata=_help("Desktop notifications show the message text (off: only who wrote)."),
    )
    auto_download_files: bool = field(
        default=False,
        metadata=_help(
            "Save encrypted files from contacts and rooms as they arrive (up to a cap)."
        ),
    )
    auto_download_max_mib: int = field(
        default=10,
        metadata=_help("Largest file, in MiB, saved automatically; larger ones wait for you."),
    )
    chat_states: bool = field(
        default=True,
        metadata=_help('Typing notifications: send and show "typing…" (off: none either way).'),
    )
    send_displayed_markers: bool = field(
        default=True,
        metadata=_help("Tell contacts when you have seen their messages (off: never sent)."),
    )

    def __post_init__(self) -> None:
        for spec in dataclasses.fields(self):
            _check_value(spec.name, getattr(self, spec.name))

    def to_json(self) -> dict[str, Any]:
        """The settings as a JSON-able dict (with a format version), for the store."""
        values: dict[str, Any] = {_VERSION_KEY: SETTINGS_VERSION}
        for spec in dataclasses.fields(self):
            value = getattr(self, spec.name)
            values[spec.name] = value
        return values

    @classmethod
    def from_json(cls, values: Mapping[str, Any]) -> Settings:
        """Read a dict written by `to_json`. Missing options take their default.

        Raises:
            ValueError: for an unknown key, an unknown version, a value of the wrong type or out
                of range.
        """
        version = values.get(_VERSION_KEY, SETTINGS_VERSION)
        if version != SETTINGS_VERSION:
            raise ValueError(f"settings version {version!r} is not supported")
        known = _option_names()
        unknown = sorted(set(values) - known - {_VERSION_KEY})
        if unknown:
            raise ValueError(f"unknown setting {unknown[0]!r}")
        kwargs: dict[str, Any] = {
            name: _from_json_value(name, values[name]) for name in known & set(values)
        }
        return cls(**kwargs)

    def with_value(self, key: str, text: str) -> Settings:
        """A copy with one option set from text, as in `tui-omemo settings KEY VALUE`.

        Booleans accept true/false, on/off, yes/no, 1/0; numbers are decimal; trust_mode is
        btbv or manual.

        Raises:
            ValueError: for an unknown key or a value that does not parse or is out of range.
        """
        if key not in _option_names():
            raise ValueError(
                f"unknown setting {key!r}; known: {', '.join(sorted(_option_names()))}"
            )
        changes: dict[str, Any] = {key: _parse_text(key, text)}
        return dataclasses.replace(self, **changes)


def _option_names() -> frozenset[str]:
    return frozenset(spec.name for spec in dataclasses.fields(Settings))


SETTINGS_HELP: Mapping[str, str] = MappingProxyType(
    {spec.name: spec.metadata["help"] for spec in dataclasses.fields(Settings)}
)
"""Option name → one-line explanation, in declaration order (for the UI and the CLI)."""


def _kind(name: str) -> type:
    """The Python type of option `name`, read from its annotation."""
    return _KINDS[_ANNOTATIONS[name]]


_KINDS: Mapping[str, type] = MappingProxyType(
    {"bool": bool, "int": int, "TrustModeName": str, "ShowName": str, "str": str}
)
_CHOICES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {"trust_mode": TRUST_MODES, "show": SHOWS}
)
"""The options that are one of a few words, with their words."""
_ANNOTATIONS: Mapping[str, str] = MappingProxyType(
    {spec.name: str(spec.type) for spec in dataclasses.fields(Settings)}
)


def _check_value(name: str, value: object) -> None:
    """Raise ValueError unless `value` has the type of option `name` and is in range."""
    kind = _kind(name)
    if kind is bool and not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, not {value!r}")
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be a whole number, not {value!r}")
        if value < 1:
            raise ValueError(f"{name} must be at least 1, not {value}")
    if kind is str and name in _CHOICES and value not in _CHOICES[name]:
        raise ValueError(f"{name} must be {' or '.join(_CHOICES[name])}, not {value!r}")
    if kind is str and not isinstance(value, str):
        raise ValueError(f"{name} must be text, not {value!r}")
    if isinstance(value, str) and name not in _CHOICES:
        _check_line(name, value)


def _check_line(name: str, value: str) -> None:
    """A free text option is one line of at most STATUS_MESSAGE_MAX characters."""
    if len(value) > STATUS_MESSAGE_MAX:
        raise ValueError(f"{name} is longer than {STATUS_MESSAGE_MAX} characters")
    if any(not character.isprintable() for character in value):
        raise ValueError(f"{name} must be one line of printable text")


def _from_json_value(name: str, value: object) -> object:
    """A JSON value checked and normalised (only trust_mode needs it; the rest is checked later)."""
    if name in _CHOICES:
        if not isinstance(value, str):
            raise ValueError(f"{name} must be a string, not {value!r}")
        return _choice(name, value)
    return value


def _choice(name: str, text: str) -> str:
    """Check and normalise a trust mode name or another option of a few words."""
    word = text.strip().lower()
    if word not in _CHOICES[name]:
        raise ValueError(f"{name} must be one of {', '.join(_CHOICES[name])}, not {text!r}")
    return word


def _parse_text(name: str, text: str) -> object:
    """An option value typed as text on the command line."""
    kind = _kind(name)
    word = text.strip().lower()
    if kind is str:
        return _choice(name, word) if name in _CHOICES else text.strip()
    if kind is bool:
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
        raise ValueError(f"{name} must be true or false, not {text!r}")
    try:
        return int(word, 10)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {text!r}") from None


def parse_status(show: str, text: str) -> tuple[str, str]:
    """`/status SHOW [TEXT]` and `tui-omemo status SHOW [TEXT]`: the checked show word and
    status message (the message as typed, without outer white space).

    Raises:
        ValueError: an unknown show word, or a message that is not one short line.
    """
    word = _choice("show", show)
    message = text.strip()
    _check_line("status_message", message)
    return word, message
