"""The python-omemo interop peers live in `devtools.peers` (`benchmarks/protocol.py` uses them
too); this module keeps the tests' import path.
"""

from devtools.peers import (
    V2_EMPTY_KEY,
    MemoryStorage,
    Peer,
    bundle_from_xml,
    bundle_to_xml,
    encrypt_key_material,
)

__all__ = [
    "V2_EMPTY_KEY",
    "MemoryStorage",
    "Peer",
    "bundle_from_xml",
    "bundle_to_xml",
    "encrypt_key_material",
]
