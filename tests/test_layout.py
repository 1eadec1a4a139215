"""The shape of the package: the product never reaches into the developer tools."""

from __future__ import annotations

import ast
from pathlib import Path

from bot.config import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "bot"
# The command line is the one door to the developer tools (eval, bench), imported lazily there.
ENTRY_POINT = PACKAGE / "cli.py"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def product_modules() -> list[Path]:
    return [
        path
        for path in PACKAGE.rglob("*.py")
        if "devtools" not in path.relative_to(PACKAGE).parts and path != ENTRY_POINT
    ]


def test_product_code_never_imports_devtools() -> None:
    offenders = {
        str(path.relative_to(PROJECT_ROOT)): sorted(
            name for name in imported_modules(path) if name.startswith("bot.devtools")
        )
        for path in product_modules()
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_guard_sees_a_devtools_import(tmp_path: Path) -> None:
    module = tmp_path / "sneaky.py"
    module.write_text("from bot.devtools.botapi_stub import BotApiStub\n")
    assert "bot.devtools.botapi_stub" in imported_modules(module)
