"""The two OMEMO versions by namespace: `version_for(namespace)`.

Kept apart from `version.py` (the interface), which `legacy/` and `v2/` import: this module sits
above all three, so the protocol core has no import cycle.
"""

from __future__ import annotations

from collections.abc import Mapping

from tui_omemo.model import Namespace
from tui_omemo.protocol.legacy.version import LEGACY
from tui_omemo.protocol.v2.version import V2
from tui_omemo.protocol.version import Version

_BY_NAMESPACE: Mapping[Namespace, Version] = {Namespace.LEGACY: LEGACY, Namespace.V2: V2}


def version_for(namespace: Namespace) -> Version:
    """The `Version` implementing `namespace`."""
    return _BY_NAMESPACE[namespace]
