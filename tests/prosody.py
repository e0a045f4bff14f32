"""The Prosody runner lives in `devtools.prosody` (the demo and the benchmarks use it too);
this module keeps the tests' import path.
"""

from devtools.prosody import (
    PLAIN_DOMAIN,
    TLS_GOOD,
    TLS_MISMATCH,
    TLS_SELF_SIGNED,
    UPLOAD_DOMAIN,
    UPLOAD_LIMIT,
    ProsodyServer,
    TlsProsody,
    free_port,
    register_in_band,
)

__all__ = [
    "PLAIN_DOMAIN",
    "TLS_GOOD",
    "TLS_MISMATCH",
    "TLS_SELF_SIGNED",
    "UPLOAD_DOMAIN",
    "UPLOAD_LIMIT",
    "ProsodyServer",
    "TlsProsody",
    "free_port",
    "register_in_band",
]
