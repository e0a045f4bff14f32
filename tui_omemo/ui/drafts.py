"""Unsent text per chat, kept while the app runs: leaving a chat (Escape, F5, another chat)
with a half-written message and coming back finds it in the composer again.

Drafts live in memory only, per running app (never on disk: the history database holds what
was sent, and a draft is not that). A correction being edited is not a draft.
"""

from __future__ import annotations

from weakref import WeakKeyDictionary

from textual.app import App

_DRAFTS: WeakKeyDictionary[App[object], dict[str, str]] = WeakKeyDictionary()


def keep(app: App[object], peer: str, text: str) -> None:
    """Remember `text` as the draft of the chat with `peer` (blank: forget it)."""
    drafts = _DRAFTS.setdefault(app, {})
    if text.strip():
        drafts[peer] = text
    else:
        drafts.pop(peer, None)


def draft(app: App[object], peer: str) -> str:
    """The draft of the chat with `peer` ("" when there is none)."""
    return _DRAFTS.get(app, {}).get(peer, "")
