"""How far one of our messages got (issue 17), re-exported by `service.api` (kept apart: the
API module is at its size limit)."""

from __future__ import annotations

import enum


class Delivery(enum.StrEnum):
    """How far one of our messages got (issue 17: receipts and displayed markers)."""

    PENDING = "pending"
    """Archived, kept in the outbox; sent (again) as soon as the server is reachable."""
    SENT = "sent"
    """The server confirmed it (or it is not ours)."""
    RECEIVED = "received"  # a device of the contact has it (a delivery receipt)
    READ = "read"  # the contact displayed it (a displayed marker)
