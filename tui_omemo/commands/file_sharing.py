"""Wiring of encrypted file sharing for an online account (issue 18): the `FileSharing` the app
sends and saves files through, over `HttpFiles` on the account's connection (plain HTTP only
to loopback with the account's loopback-plaintext switch) and the platform's downloads
directory."""

from __future__ import annotations

from tui_omemo.commands.file_args import DOWNLOADS_ENV, downloads_directory
from tui_omemo.commands.runtime import Online
from tui_omemo.service.file_sharing import FileSharing
from tui_omemo.xmpp.http_files import HttpFiles

__all__ = ["DOWNLOADS_ENV", "downloads_directory", "file_sharing"]


def file_sharing(running: Online) -> FileSharing:
    """File sharing for the account `running` is logged in as."""
    transport = HttpFiles(
        running.client, allow_plaintext_loopback=running.account.allow_plaintext_loopback
    )
    return FileSharing(transport, running.service, downloads_directory(), running.service.runner)
