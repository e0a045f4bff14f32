"""Import hygiene beyond what import-linter states (DESIGN.md §2, STYLE.md "Architecture").

import-linter checks static imports; these tests check what actually gets loaded, in a fresh
interpreter, and the rules import-linter cannot say (its root package is `tui_omemo`): the UI
reaches into the service only through `service.api`; nothing but the tests imports `tests`
(the demo and the benchmarks share `devtools/` with them); `tui_omemo` never imports `devtools`.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "tui_omemo"


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


def _imported_modules(path: Path) -> list[str]:
    """Every module an absolute `import` or `from … import` in `path` names, at any depth.

    `from a.b import c` yields `a.b` and `a.b.c` (`c` may be a submodule or a name in `a.b`).
    """
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
    return names


def _offenders(directories: list[Path], forbidden: str) -> list[str]:
    """`file: module` for every import of `forbidden` (or a submodule) in the directories."""
    return [
        f"{path.relative_to(ROOT)}: {name}"
        for directory in directories
        for path in sorted(directory.rglob("*.py"))
        for name in _imported_modules(path)
        if name == forbidden or name.startswith(f"{forbidden}.")
    ]


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


def test_nothing_outside_the_tests_imports_them() -> None:
    """The product, the demo, the benchmarks and the shared dev tools never import `tests`:
    what they share with the tests lives in `devtools/` (issue #14)."""
    directories = [PACKAGE, ROOT / "benchmarks", ROOT / "scripts", ROOT / "devtools"]
    assert _offenders(directories, "tests") == []


def test_the_product_never_imports_devtools() -> None:
    """`tui_omemo` ships without `devtools/` (fakes, the Prosody runner, interop peers)."""
    assert _offenders([PACKAGE], "devtools") == []


MAX_LINES = 600
"""Issue 14: no production module grows past this; a new concern goes into a module of its own."""


def test_no_production_module_is_over_600_lines() -> None:
    too_long = {
        str(path.relative_to(ROOT)): lines
        for path in sorted((ROOT / "tui_omemo").rglob("*.py"))
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert too_long == {}
