"""The packages import one way (``docs/DESIGN.md``): scripts -> lightning_modules -> losses, metrics, datamodules ->
models -> contract. A layer that imports one above it (or a sibling it must not) fails here, naming the file."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# package -> the project packages it may import
ALLOWED = {
    "contract": set(),
    "models": {"contract"},
    "datamodules": {"contract"},
    "metrics": {"contract"},
    "losses": {"contract", "models"},
    "lightning_modules": {"contract", "datamodules", "models", "losses", "metrics"},
    "scripts": {"contract", "datamodules", "models", "losses", "metrics", "lightning_modules"},
}


def project_imports(path: Path) -> set[str]:
    """The top-level project packages that ``path`` imports (absolute imports, at any depth of the file)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & set(ALLOWED)


def test_every_package_imports_only_the_floors_below_it() -> None:
    wrong = []
    for package, allowed in ALLOWED.items():
        files = sorted((REPO / package).rglob("*.py"))
        assert files, f"package {package} has no files"
        for path in files:
            for imported in sorted(project_imports(path) - allowed - {package}):
                wrong.append(f"{path.relative_to(REPO)} imports {imported}")
    assert not wrong, "imports against the direction of docs/DESIGN.md:\n" + "\n".join(wrong)


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    module = tmp_path / "layer.py"
    module.write_text("def f():\n    from models.warp import warp\n    import lightning_modules.cli\n")
    assert project_imports(module) == {"models", "lightning_modules"}
