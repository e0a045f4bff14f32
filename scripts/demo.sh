#!/usr/bin/env bash
# The demo: a throwaway Prosody on 127.0.0.1, two accounts with encrypted profiles, an echo
# contact answering over OMEMO, and the terminal app (or, without a terminal, a scripted
# exchange). Installs what it needs first (see bootstrap.sh). Quitting stops everything.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$TUI_OMEMO_ROOT"
exec python scripts/demo.py "$@"
