"""Process hardening at start: no core dumps, as ssh-agent and gpg-agent do.

A core dump of tui-omemo would hold the database key or passphrase, the account password and
decrypted messages. `forbid_core_dumps` sets ``RLIMIT_CORE`` to 0 (soft and hard, so nothing
later in the process can raise it again) and, on Linux, marks the process not dumpable with
``prctl(PR_SET_DUMPABLE, 0)``: no core even when the core pattern pipes to a handler, and other
processes of the same user cannot ptrace it or read its memory through /proc.
"""

from __future__ import annotations

import ctypes
import resource
import sys

PR_SET_DUMPABLE = 4


def forbid_core_dumps() -> bool:
    """Switch core dumps off for this process; True when every step took effect."""
    done = True
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        done = False
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_DUMPABLE, ctypes.c_ulong(0), 0, 0, 0) != 0:
            done = False
    return done
