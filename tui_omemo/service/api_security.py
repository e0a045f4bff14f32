"""The encryption badge of a chat (`ChatSecurity`), in a module of its own so that `api.py`
stays under 600 lines; `api` re-exports it, so the UI sees it through `api` as before. The
rules that pick it are in `service.chat_badge` (contacts) and `service.rooms` (rooms).
"""

from __future__ import annotations

import enum


class ChatSecurity(enum.StrEnum):
    """The encryption badge of a chat (roster and chat header)."""

    ALL_VERIFIED = "all_verified"
    """Every device that receives our messages is verified (distrusted ones receive none)."""
    SOME_BLIND = "some_blind"
    UNDECIDED_DEVICES = "undecided_devices"
    NO_TRUSTED_DEVICE = "no_trusted_device"
    """Every known device of the contact (or of a room member) is distrusted: a message
    cannot reach them; nothing is undecided to review."""
    NO_OMEMO = "no_omemo"
    PLAINTEXT_CHOSEN = "plaintext_chosen"
    ALONE = "alone"
    """A room with nobody in it but us: nothing to encrypt for yet."""
