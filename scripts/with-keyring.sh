#!/usr/bin/env bash
# Runs its arguments with a real, unlocked gnome-keyring Secret Service on the current D-Bus
# session (start it under dbus-run-session). The keyring lives in a throwaway HOME-independent
# directory so tests never touch the user's own keyring.
set -euo pipefail
keyring_dir="$(mktemp -d)"
trap 'rm -rf "$keyring_dir"' EXIT
export XDG_DATA_HOME="$keyring_dir/data" XDG_RUNTIME_DIR="$keyring_dir/run"
mkdir -p "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"
# --unlock reads the login password from stdin and creates the login keyring with it.
eval "$(printf 'test-keyring' | gnome-keyring-daemon --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL TUI_OMEMO_TEST_SECRET_SERVICE=1
"$@"
