#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what it needs (see bootstrap.sh),
# checks the layers and types, then runs pytest inside a private D-Bus session with a real
# gnome-keyring Secret Service, so the keyring tests talk to the real thing.
# Extra arguments go to pytest (e.g. scripts/test.sh tests/store -x).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$TUI_OMEMO_ROOT"

echo "== lint-imports (DESIGN.md §2 layers)"
lint-imports --no-cache
echo "== ruff"
ruff check tui_omemo tests benchmarks devtools
ruff format --check tui_omemo tests benchmarks scripts devtools
echo "== mypy --strict"
mypy

echo "== pytest"
exec dbus-run-session -- bash scripts/with-keyring.sh python -m pytest -n "${TUI_OMEMO_TEST_WORKERS:-2}" "$@"
