"""How commands show a file message (a body that is exactly one `aesgcm://` link): never the
link (its fragment is the file's key), but a `file` object with name, size and type in JSON,
and `[file] NAME` as text. Light on purpose: `history` and `listen` print through it and load
no cryptography library."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass

from tui_omemo.protocol.media_link import file_link, safe_name

FILE_TAG = "[file]"


@dataclass(frozen=True, slots=True)
class Saved:
    """Where a file message was downloaded to: `path`, `size` and hex `sha256`."""

    path: str
    size: int
    sha256: str


def file_fields(text: str, saved: Saved | None = None) -> dict[str, object] | None:
    """The `file` object of a message's JSON (`name`, `size`, `type`; once downloaded also
    `saved`, the path, and `sha256`), None when the message is not a file. `size` is null
    until downloaded: the link does not carry it."""
    link = file_link(text)
    if link is None:
        return None
    name = safe_name(link.file_name)
    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if saved is None:
        return {"name": name, "size": None, "type": kind}
    return {"name": name, "size": saved.size, "type": kind, "saved": saved.path,
            "sha256": saved.sha256}  # fmt: skip


def shown_text(text: str) -> str:
    """The text to print for a message: `[file] NAME` for a file message, else `text`."""
    fields = file_fields(text)
    return text if fields is None else f"{FILE_TAG} {fields['name']}"
