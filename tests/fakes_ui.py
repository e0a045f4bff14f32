"""`FakeService` and its fixed data live in `devtools.fakes_ui` (`benchmarks/ui.py` uses them
too); this module keeps the tests' import path.
"""

from devtools.fakes_ui import (
    BOB,
    CAROL,
    DAVE,
    ERIN,
    NOW,
    OWN,
    ROOM,
    FakeService,
    _chats,
    _device,
    fingerprint,
)

__all__ = [
    "BOB",
    "CAROL",
    "DAVE",
    "ERIN",
    "NOW",
    "OWN",
    "ROOM",
    "FakeService",
    "_chats",
    "_device",
    "fingerprint",
]
