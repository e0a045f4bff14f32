"""The in-memory ports of the protocol core live in `devtools.fakes` (`benchmarks/protocol.py`
uses them too); this module keeps the tests' import path.
"""

from devtools.fakes import (
    FakeDevice,
    MemoryDirectory,
    MemoryStateStore,
    as_received,
    json_copy,
    trust_everyone,
)

__all__ = [
    "FakeDevice",
    "MemoryDirectory",
    "MemoryStateStore",
    "as_received",
    "json_copy",
    "trust_everyone",
]
