"""What the conversation pipeline's components share (issue #14): one value handed to
`Upkeep`, `InboundPipeline`, `OutboundPipeline` and `GroupChats` instead of the same seven
collaborators in each constructor. `Session` builds it; nothing in it changes after that.
`PipelineComponent` is the base of the first three: the parts as their private attributes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from tui_omemo.config import Settings
from tui_omemo.protocol.engine import Engine
from tui_omemo.service.api import ServiceEvent
from tui_omemo.service.directory import CachingDirectory
from tui_omemo.service.ports import Transport
from tui_omemo.service.runner import DbRunner


@dataclass(frozen=True, slots=True)
class PipelineParts:
    """The transport, our device's engine, the one database thread, the device directory,
    the settings as they are now, the event sink, and the lock around the engine's state."""

    transport: Transport
    engine: Engine
    runner: DbRunner
    directory: CachingDirectory
    settings: Callable[[], Settings]
    emit: Callable[[ServiceEvent], None]
    lock: asyncio.Lock


class PipelineComponent:
    """A component of the pipeline built from its `PipelineParts` (kept as `_transport`,
    `_engine`, `_runner`, `_directory`, `_settings`, `_emit` and `_lock`)."""

    def __init__(self, parts: PipelineParts) -> None:
        self._transport = parts.transport
        self._engine = parts.engine
        self._runner = parts.runner
        self._directory = parts.directory
        self._settings = parts.settings
        self._emit = parts.emit
        self._lock = parts.lock
