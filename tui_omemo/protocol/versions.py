"""The two OMEMO versions: `version_for(namespace)` and `ALL_VERSIONS`.

Kept apart from `version.py` (the interface), which `legacy/` and `v2/` import: this module sits
above all three, so the protocol core has no import cycle.
"""

from __future__ import annotations

from collections.abc import Mapping

from tui_omemo.model import Namespace
from tui_omemo.protocol.legacy.version import LEGACY
from tui_omemo.protocol.v2.version import V2
from tui_omemo.protocol.version import Version

ALL_VERSIONS: tuple[Version, ...] = (LEGACY, V2)
"""Both versions, 0.3 first (the order in which our device's state is created and upkept)."""

_BY_NAMESPACE: Mapping[Namespace, Version] = {
    version.namespace: version for version in ALL_VERSIONS
}


def version_for(namespace: Namespace) -> Version:
    """The `Version` implementing `namespace`."""
    return _BY_NAMESPACE[namespace]
