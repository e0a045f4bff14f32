"""XEP-0420 Stanza Content Encryption: the envelope OMEMO 2 encrypts (OMEMO-WIRE.md §4.3)."""

from tui_omemo.xmpp.xep_0420.envelope import (
    SCE_NAMESPACE,
    Envelope,
    build_envelope,
    parse_envelope,
)

__all__ = ["SCE_NAMESPACE", "Envelope", "build_envelope", "parse_envelope"]
