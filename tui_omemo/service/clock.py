"""Time stamps and fresh ids shared by the pipelines (one place, no import cycles)."""

from __future__ import annotations

import secrets
import time


def now_ms() -> int:
    """Milliseconds since the epoch."""
    return int(time.time() * 1000)


def new_message_id() -> str:
    """A fresh, unguessable stanza id (also our origin-id)."""
    return secrets.token_hex(12)
