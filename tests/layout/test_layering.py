"""Dependencies point one way: cli -> verbs -> search -> spec -> train -> distill -> models,
with data and results below (docs/architecture.md, "What may import what").

Every module's imports are read from its source, function-local ones included, so a lazy import
cannot hide a breach.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "kdsearch"

# package -> what its modules must never import (a prefix of a dotted module name).
FORBIDDEN = {
    "kdsearch.models": ("kdsearch.train", "kdsearch.distill", "kdsearch.search", "kdsearch.spec", "kdsearch.verbs",
                        "kdsearch.cli", "ray"),
    "kdsearch.distill": ("kdsearch.train", "kdsearch.search", "kdsearch.spec", "kdsearch.verbs", "kdsearch.cli", "ray"),
    "kdsearch.dmd": ("kdsearch.train", "kdsearch.search", "kdsearch.spec", "kdsearch.verbs", "kdsearch.cli", "ray"),
    "kdsearch.train": ("kdsearch.search", "kdsearch.spec", "kdsearch.verbs", "kdsearch.cli", "ray"),
    "kdsearch.data": ("kdsearch.models", "kdsearch.train", "kdsearch.distill", "kdsearch.search", "kdsearch.spec",
                      "kdsearch.verbs", "kdsearch.cli", "ray"),
    "kdsearch.results": ("kdsearch.models", "kdsearch.train", "kdsearch.distill", "kdsearch.search",
                         "kdsearch.spec", "kdsearch.verbs", "kdsearch.cli", "ray"),
    "kdsearch.spec": ("kdsearch.search", "kdsearch.verbs", "kdsearch.cli", "ray"),
    "kdsearch.search": ("kdsearch.verbs", "kdsearch.cli"),
    "kdsearch.verbs": ("kdsearch.cli",),
}
MAX_LINES = 300
MAX_SEARCH_MODULES = 14


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module `path` imports, at any depth of its code (relative imports resolved)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                found.add(".".join(base + ([node.module] if node.module else [])))
            else:
                found.add(node.module)
    return found


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_the_walk_sees_function_local_imports(tmp_path):
    fake = PACKAGE / "models" / "_probe_for_layering_test.py"
    fake.write_text("def f():\n    from kdsearch.train import trainer\n    import ray\n")
    try:
        assert {"kdsearch.train", "ray"} <= imports_of(fake)
    finally:
        fake.unlink()


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_point_one_way(path):
    name = module_name(path)
    rules = [forbidden for package, forbidden in FORBIDDEN.items() if _within(name, package)]
    breaches = sorted(imp for imp in imports_of(path) for forbidden in rules for prefix in forbidden
                      if _within(imp, prefix))
    assert not breaches, f"{name} imports {', '.join(breaches)}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_no_module_over_the_size_limit(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{module_name(path)} has {lines} lines (at most {MAX_LINES})"


def test_search_holds_only_the_ray_side():
    modules = [p for p in (PACKAGE / "search").glob("*.py") if p.name != "__init__.py"]
    assert len(modules) <= MAX_SEARCH_MODULES, sorted(p.name for p in modules)
