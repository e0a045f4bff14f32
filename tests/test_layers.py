"""Import hygiene beyond what import-linter states (DESIGN.md §2, STYLE.md "Architecture").

import-linter checks static imports; these tests check what actually gets loaded, in a fresh
interpreter, and the one rule import-linter cannot say: the UI reaches into the service only
through `service.api`.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "tui_omemo"


def _loaded_modules(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return {name.split(".")[0] for name in out.split()}


@pytest.mark.parametrize(
    ("module", "forbidden"),
    [
        ("tui_omemo.protocol.engine", {"textual", "rich", "slixmpp", "sqlcipher3", "keyring"}),
        ("tui_omemo.store", {"textual", "rich", "slixmpp"}),
    ],
)
def test_lower_layers_do_not_load_upper_layer_libraries(module: str, forbidden: set[str]) -> None:
    """Importing the protocol core or the store must not drag in the UI or XMPP stacks."""
    assert _loaded_modules(module).isdisjoint(forbidden)


def test_ui_uses_only_service_api() -> None:
    """`ui/` may import `tui_omemo.service.api` and nothing else from `tui_omemo.service`."""
    offenders = []
    for path in (PACKAGE / "ui").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
                if node.module == "tui_omemo.service":
                    names = [f"tui_omemo.service.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                if name.startswith("tui_omemo.service") and not name.startswith(
                    "tui_omemo.service.api"
                ):
                    offenders.append(f"{path.relative_to(PACKAGE)}: {name}")
    assert offenders == []
