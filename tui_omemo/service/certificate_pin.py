"""The account's certificate pin: the SHA-256 of the one server certificate the user chose to
trust, kept in the settings table as `certificate_pin` (`AA:BB:…`, see
`model.normalize_pin`).

It is written only by an explicit act of the user: `account add/set --pin-certificate`, or
"Pin this certificate" on the account screen after comparing the fingerprint (both go through
`AccountChange.certificate_pin`). Nothing pins a certificate on its own: a refused certificate
is shown, never accepted. The pin is read before each login (`commands.security`).
"""

from __future__ import annotations

from tui_omemo.model import normalize_pin
from tui_omemo.store import UnitOfWork

CERTIFICATE_PIN = "certificate_pin"


def check_pin(text: str) -> str | None:
    """The pin to store for `text`: `normalize_pin`'s form, or None for "" (no pin).

    Raises:
        ValueError: not a SHA-256 fingerprint (the reason in words).
    """
    if not text.strip():
        return None
    return normalize_pin(text)


def certificate_pin(uow: UnitOfWork) -> str | None:
    """The stored pin, or None (an unreadable value counts as none)."""
    value = uow.settings.get(CERTIFICATE_PIN)
    if not isinstance(value, str):
        return None
    try:
        return normalize_pin(value)
    except ValueError:
        return None


def set_certificate_pin(uow: UnitOfWork, pin: str | None) -> None:
    """Store the pin or, with None or "", remove it.

    Raises:
        ValueError: not a SHA-256 fingerprint (nothing is written).
    """
    checked = check_pin(pin or "")
    if checked is None:
        uow.settings.delete(CERTIFICATE_PIN)
    else:
        uow.settings.set(CERTIFICATE_PIN, checked)
