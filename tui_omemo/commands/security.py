"""What a profile remembers about its server's security, kept in the settings table.

* `certificate_pin`: the SHA-256 of the server certificate the user chose to trust
  (`account add/set --pin-certificate`, or the account screen); with it, exactly that
  certificate is accepted. Read and written by `service.certificate_pin`.
* `login_mechanism`: the strongest SASL mechanism this account has logged in with; a later
  login refuses weaker ones (`xmpp.secure.accepted_mechanisms`), as Conversations does. Kept
  by `service.login_pins`; the ranking of mechanisms is the XMPP layer's.

Both are read before connecting (`stream_security`) and the mechanism is raised after a login
(`remember_mechanism`); they are never lowered automatically.
"""

from __future__ import annotations

from tui_omemo.service.certificate_pin import (
    CERTIFICATE_PIN,
    certificate_pin,
    set_certificate_pin,
)
from tui_omemo.service.login_pins import LOGIN_MECHANISM, raise_mechanism, stored_mechanism
from tui_omemo.service.profiles import Database, UnitOfWork
from tui_omemo.xmpp.secure import StreamSecurity, mechanism_rank

__all__ = [
    "CERTIFICATE_PIN",
    "LOGIN_MECHANISM",
    "remember_mechanism",
    "set_certificate_pin",
    "stream_security",
]


def stream_security(uow: UnitOfWork) -> StreamSecurity:
    """The pins stored in the profile (unreadable values count as absent)."""
    mechanism = stored_mechanism(uow)
    return StreamSecurity(
        certificate_pin=certificate_pin(uow),
        pinned_mechanism=mechanism
        if mechanism is not None and mechanism_rank(mechanism) > 0
        else None,
    )


def remember_mechanism(database: Database, mechanism: str | None) -> None:
    """Raise the stored login mechanism to `mechanism` when that one is stronger (SCRAM
    only: a PLAIN login pins nothing)."""
    if mechanism is None or mechanism_rank(mechanism) <= 0:
        return
    raise_mechanism(database, mechanism, mechanism_rank)
