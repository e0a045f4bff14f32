"""Log records never carry a secret: SASL payloads, passwords and message text are cut out.

With ``TUI_OMEMO_DEBUG`` set, slixmpp logs every stanza it sends and receives (``SEND: …``,
``RECV: …``). Those include the SASL exchange (``<auth mechanism="PLAIN">`` holds the password
in base64; a SCRAM exchange holds salt, iteration count and proof, enough for an offline
dictionary attack), in-band registration or password changes (``<password>``), and the
``<body>`` of every plaintext message. `RedactSecrets` is a `logging.Filter` for a handler: it
replaces the content of those elements in the formatted message, in a logged exception's text
and in stack information, whatever the level and whatever logger the record came from
(DESIGN.md §3.9, §3.13). The elements' start tags stay (the mechanism name helps debugging).
"""

from __future__ import annotations

import logging
import re

#: What a redacted element's content becomes.
REDACTED = "[redacted]"

#: Elements whose whole content is secret or plaintext, by local name (any namespace/prefix):
#: SASL (RFC 6120) and SASL2 (XEP-0388) payloads, passwords (XEP-0077, XEP-0078), message
#: text, and the SCE envelope (XEP-0420) that holds decrypted content.
SECRET_ELEMENTS = (
    "auth",
    "challenge",
    "response",
    "success",
    "authenticate",
    "initial-response",
    "additional-data",
    "password",
    "digest",
    "body",
    "envelope",
    "content",
)

_NAMES = "|".join(re.escape(name) for name in SECRET_ELEMENTS)
# A start tag (any prefix), then everything up to the matching end tag, or to the end of the
# text when the element is cut off. A self-closing tag carries nothing.
_ELEMENT = re.compile(
    rf"(?P<start><(?P<prefix>[\w.-]+:)?(?P<name>{_NAMES})(?:\s[^<>]*)?(?<!/)>)"
    rf"(?P<content>.*?)(?P<end></(?P=prefix)?(?P=name)\s*>|\Z)",
    re.DOTALL,
)


def redact(text: str) -> str:
    """`text` with the content of every secret element replaced by `REDACTED`."""
    return _ELEMENT.sub(_replace, text)


def _replace(match: re.Match[str]) -> str:
    if not match.group("content"):
        return match.group(0)
    return f"{match.group('start')}{REDACTED}{match.group('end')}"


class RedactSecrets(logging.Filter):
    """A handler filter that redacts every record it sees (it never drops one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Format the message once, redact it, and freeze it into the record."""
        message = record.getMessage()
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install(handlers: list[logging.Handler]) -> None:
    """Put one `RedactSecrets` on each handler (idempotent)."""
    for handler in handlers:
        if not any(isinstance(existing, RedactSecrets) for existing in handler.filters):
            handler.addFilter(RedactSecrets())
