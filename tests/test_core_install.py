"""A core install (no torch, Prefect, Playwright, onnx, scikit-image) collects every test module
(issue 17 bug 7): no test module imports an optional package at module level before skipping.

``make test-core`` runs the suite in such a venv; this static check keeps it true in the full one.
A project module counts as optional when it imports an optional package at module level, directly
or through another project module (``flows.process_bucket`` imports Prefect; ``flows.artifacts``
does not).
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

from tests.needs import EXTRAS

REPO = Path(__file__).resolve().parents[1]
THIRD_PARTY = {m for modules, _ in EXTRAS.values() for m in modules} | {
    "prefect_dask", "skimage", "matplotlib", "fastapi", "httpx"}
SKIPS = {"needs", "importorskip"}  # tests.needs.needs(...), pytest.importorskip(...)


def _top_level_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of the imports before the first skip call, in order."""
    out = []
    for node in ast.parse(path.read_text()).body:
        call = node.value if isinstance(node, ast.Expr | ast.Assign) else None
        if isinstance(call, ast.Call):
            func = call.func
            if (func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")) in SKIPS:
                break
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module))
    return out


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_optional(name: str, optional: set[str] | frozenset[str]) -> bool:
    return any(name == o or name.startswith(o + ".") for o in optional)


@cache
def optional_modules() -> frozenset[str]:
    """Optional third-party packages and every project module that imports one at module level."""
    sources = [p for top in ("pipeline", "flows", "review_server", "tests") for p in (REPO / top).rglob("*.py")]
    imports = {_module_name(p): [m for _, m in _top_level_imports(p)] for p in sources}
    optional = set(THIRD_PARTY)
    changed = True
    while changed:
        new = {mod for mod, deps in imports.items() if mod not in optional and any(
            _is_optional(d, optional) for d in deps)}
        optional |= new
        changed = bool(new)
    return frozenset(optional)


def unguarded_imports(path: Path, optional: frozenset[str]) -> list[tuple[int, str]]:
    """(line, module) of the optional modules ``path`` imports before it skips."""
    return [(line, m) for line, m in _top_level_imports(path) if _is_optional(m, optional)]


def test_every_test_module_skips_before_importing_an_optional_package():
    optional = optional_modules()
    assert {"flows.process_bucket", "tests.fixtures.tiny_models"} <= optional  # the check sees through modules
    assert "flows.artifacts" not in optional and "pipeline.compose" not in optional
    modules = [p for p in (REPO / "tests").rglob("*.py") if p.name.startswith(("test_", "conftest"))]
    problems = [f"{p.relative_to(REPO)}:{line} imports {m}" for p in sorted(modules)
                for line, m in unguarded_imports(p, optional)]
    assert not problems, "call tests.needs.needs(...) before these imports:\n" + "\n".join(problems)


def test_the_check_sees_an_unguarded_import(tmp_path):
    probe = tmp_path / "test_probe.py"
    probe.write_text("import pytest\nimport torch\nfrom tests.fixtures.tiny_models import tiny_models\n")
    assert unguarded_imports(probe, optional_modules()) == [(2, "torch"), (3, "tests.fixtures.tiny_models")]
    probe.write_text("from tests.needs import needs\n\nneeds('torch')\nimport torch\n")
    assert unguarded_imports(probe, optional_modules()) == []
