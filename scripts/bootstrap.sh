#!/usr/bin/env bash
# Sourced by scripts/test.sh and scripts/demo.sh: makes sure the system packages and the
# project's virtual environment exist, and installs what is missing.
#   - Debian packages prosody (+ lua-sec for TLS), gnome-keyring, dbus: apt-get install when root, else say the line.
#   - .venv with the project (editable) and the test dependency group.
set -euo pipefail

TUI_OMEMO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${TUI_OMEMO_VENV:-$TUI_OMEMO_ROOT/.venv}"

need_debs=()
command -v prosody >/dev/null 2>&1 || need_debs+=(prosody)
# TLS for Prosody (the prosody_tls test fixture); usually pulled in with prosody
if command -v dpkg >/dev/null 2>&1 && ! dpkg -s lua-sec >/dev/null 2>&1; then
    need_debs+=(lua-sec)
fi
command -v gnome-keyring-daemon >/dev/null 2>&1 || need_debs+=(gnome-keyring)
command -v dbus-run-session >/dev/null 2>&1 || need_debs+=(dbus)
if ((${#need_debs[@]})); then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "tui-omemo: installing ${need_debs[*]} with apt-get" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_debs[@]}" >/dev/null
    else
        echo "tui-omemo: missing system packages. Install them with:" >&2
        echo "    sudo apt-get install ${need_debs[*]}" >&2
        exit 1
    fi
fi
# Debian starts prosody as a system service on install; we run our own on loopback only.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prosody 2>/dev/null; then
    systemctl stop prosody >/dev/null 2>&1 || true
fi

stamp="$VENV/.tui-omemo-installed"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
if [ ! -f "$stamp" ] || [ "$TUI_OMEMO_ROOT/pyproject.toml" -nt "$stamp" ]; then
    "$VENV/bin/python" -m pip install -q --upgrade "pip>=25.1"
    (cd "$TUI_OMEMO_ROOT" && "$VENV/bin/python" -m pip install -q -e . --group dev)
    touch "$stamp"
fi
export PATH="$VENV/bin:$PATH"
