"""Checking the JIDs people type on the command line (light: no store, no XMPP library, so
every command can use it without slowing its start)."""

from __future__ import annotations

from tui_omemo.commands.console import UsageError
from tui_omemo.model import bare_jid


def check_jid(text: str) -> str:
    """The bare JID of `text`, which must look like `local@domain`.

    Raises:
        UsageError: no `@`, an empty part, a resource, or white space.
    """
    local, at, domain = text.partition("@")
    if not at or not local or not domain or "/" in text or any(ch.isspace() for ch in text):
        raise UsageError(f"{text!r} is not a bare JID of the form name@domain")
    return bare_jid(text)
