#!/usr/bin/env bash
# The demo: a throwaway Prosody on 127.0.0.1, two accounts with encrypted profiles, an echo
# contact answering over OMEMO, and the terminal app (or, without a terminal, a scripted
# exchange). Installs what it needs first (see bootstrap.sh). Quitting stops everything.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$TUI_OMEMO_ROOT"
# Without a D-Bus session (a console, ssh, a container) the gnome-keyring installed above is
# not running, and the demo would fall back to passphrases: start one for the demo, as the
# keyring tests do (a throwaway keyring, removed afterwards).
if [ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ] && command -v dbus-run-session >/dev/null 2>&1 \
    && command -v gnome-keyring-daemon >/dev/null 2>&1; then
    exec dbus-run-session -- bash scripts/with-keyring.sh python scripts/demo.py "$@"
fi
exec python scripts/demo.py "$@"
