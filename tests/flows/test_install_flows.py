"""The orchestration install has no torch: `make install-flows` and the flow tests in it (issue 11.13)."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

from tests.needs import needs

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "torchvision", "diffusers", "transformers", "accelerate", "segment-anything")


def _extras(names: list[str], optional: dict[str, list[str]]) -> list[str]:
    """Requirements of ``names`` extras, with self-references (product-scene[a,b]) expanded."""
    out = []
    for name in names:
        for req in optional[name]:
            inner = re.fullmatch(r"product-scene\[(.+)\]", req)
            out += _extras(inner.group(1).split(","), optional) if inner else [req]
    return out


def test_make_install_flows_installs_no_torch():
    recipe = re.search(r"^\$\(VENV\)/\.flows:.*\n\t(.+)$", (REPO / "Makefile").read_text(), re.M)
    assert recipe, "Makefile needs a $(VENV)/.flows target (make install-flows)"
    extras = re.search(r'-e "\.\[([a-z,]+)\]"', recipe.group(1)).group(1).split(",")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + _extras(extras, project["optional-dependencies"])
    names = {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower() for r in requirements}
    assert "prefect" in names and "s3fs" in names
    assert not names & set(HEAVY), names & set(HEAVY)


def test_flow_tests_import_and_run_without_torch():
    """Blocks the weights stack at import, then collects every flow test and runs the fast ones."""
    needs("flows")
    script = textwrap.dedent(f"""
        import importlib.abc, sys
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name.split(".")[0] in {tuple(h.replace("-", "_") for h in HEAVY)!r}:
                    raise ImportError(name + " is not installed (orchestration install)")
        sys.meta_path.insert(0, Block())
        import pytest
        rc = pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", "tests/flows"])
        rc = rc or pytest.main(["-q", "-p", "no:cacheprovider", "tests/flows/test_ledger.py",
                                "tests/flows/test_artifacts.py", "tests/flows/test_redact.py"])
        sys.exit(int(rc))
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**__import__("os").environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
