"""What the listeners of a connection hear (`Link`), and when a lost one tries again.

The reconnect waits are exponential with jitter (`backoff_delay`); tests pass their own `Pause`
to hold or count the attempts.
"""

from __future__ import annotations

import asyncio
import enum
import ipaddress
import random
from collections.abc import Awaitable, Callable

BACKOFF_FIRST = 1.0
BACKOFF_CAP = 60.0
_jitter = random.SystemRandom()


class Link(enum.StrEnum):
    """What happened to the connection (told to connection listeners)."""

    ONLINE = "online"
    """A fresh session (after a reconnect: presence, carbons and joined rooms are gone)."""
    RESUMED = "resumed"
    """The old stream was resumed (XEP-0198): nothing was lost."""
    LOST = "lost"
    """The stream broke unexpectedly; reconnecting."""
    CLOSED = "closed"
    """Disconnected for good (deliberately, or the server refused to let us back in)."""


ConnectionListener = Callable[[Link], None]
Pause = Callable[[int], Awaitable[None]]
"""Waits before reconnect attempt `n` (0 for the first)."""


def backoff_delay(attempt: int, first: float = BACKOFF_FIRST, cap: float = BACKOFF_CAP) -> float:
    """Seconds to wait before reconnect attempt `attempt`: doubling from `first`, at most
    `cap`, each with ±20 % jitter (so clients cut off together do not return together)."""
    base = min(cap, first * float(2 ** min(attempt, 16)))
    jitter: float = _jitter.uniform(0.8, 1.2)
    return min(cap, base * jitter)


async def backoff_pause(attempt: int) -> None:
    """The default `Pause`: sleep `backoff_delay(attempt)`."""
    await asyncio.sleep(backoff_delay(attempt))


def is_loopback(host: str | None) -> bool:
    """True for `localhost` and loopback IP addresses (127.0.0.0/8, ::1)."""
    if host is None:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
