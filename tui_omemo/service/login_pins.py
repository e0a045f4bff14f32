"""The strongest login mechanism a profile has used, kept in its settings table.

A later login refuses weaker mechanisms (`xmpp.secure.accepted_mechanisms`), as Conversations
does. How strong a mechanism is belongs to the XMPP layer, so the callers pass its `rank`; this
module only keeps the name, and never lowers it.
"""

from __future__ import annotations

from collections.abc import Callable

from tui_omemo.store import Database, UnitOfWork

LOGIN_MECHANISM = "login_mechanism"


def stored_mechanism(uow: UnitOfWork) -> str | None:
    """The mechanism name stored in the profile, or None (also when the value is not a name)."""
    stored = uow.settings.get(LOGIN_MECHANISM)
    return stored if isinstance(stored, str) else None


def raise_mechanism(database: Database, mechanism: str, rank: Callable[[str], int]) -> None:
    """Store `mechanism` (without ``-PLUS``) when `rank` puts it above the stored one, in one
    unit of work."""
    with database.unit_of_work() as uow:
        stored = stored_mechanism(uow)
        current = rank(stored) if stored is not None else -1
        if rank(mechanism) > current:
            uow.settings.set(LOGIN_MECHANISM, mechanism.removesuffix("-PLUS"))
