"""Wiring of encrypted file sharing for an online account (issue 18): the `FileSharing` the app
sends and saves files through, over `HttpFiles` on the account's connection (plain HTTP only
to loopback with the account's loopback-plaintext switch) and the platform's downloads
directory."""

from __future__ import annotations

from pathlib import Path

from tui_omemo.commands.runtime import Online
from tui_omemo.service.file_sharing import FileSharing
from tui_omemo.xmpp.http_files import HttpFiles

DOWNLOADS_ENV = "TUI_OMEMO_DOWNLOADS"
"""Overrides the downloads directory (tests, the demo)."""


def downloads_directory(environ: dict[str, str] | None = None) -> Path:
    """`$TUI_OMEMO_DOWNLOADS`, else the platform's downloads directory (platformdirs)."""
    import os

    import platformdirs

    chosen = (environ if environ is not None else os.environ).get(DOWNLOADS_ENV)
    return Path(chosen).expanduser() if chosen else platformdirs.user_downloads_path()


def file_sharing(running: Online) -> FileSharing:
    """File sharing for the account `running` is logged in as."""
    transport = HttpFiles(
        running.client, allow_plaintext_loopback=running.account.allow_plaintext_loopback
    )
    return FileSharing(transport, running.service, downloads_directory(), running.service.runner)
