"""The import graph keeps its shape: pyproject.toml's import-linter contracts (issue 17).

``pipeline`` imports no Prefect and no web framework, the shells (``flows``, ``review_server``)
sit on the library, the library's packages form layers (cli above batch above compose above the
stages above config), and no two modules or packages of the same parent import each other.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("importlinter", reason="import-linter is in the dev extra")

REPO = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept(monkeypatch, capsys):
    from importlinter.cli import lint_imports

    monkeypatch.chdir(REPO)
    monkeypatch.syspath_prepend(str(REPO))
    code = lint_imports(config_filename=str(REPO / "pyproject.toml"), no_cache=True, no_logo=True)
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.count("KEPT") == 4, out
