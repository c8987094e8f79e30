"""The wheel installs and works away from the repository (issue 17 bug 8).

Builds the wheel offline (hatchling from the dev extra), installs it with pip into a throwaway
venv whose dependencies come from this environment's site-packages (a ``.pth`` line added after
the install, so pip never sees or touches them), and runs ``product-scene`` from a folder outside
the repository: the configs and themes must come from the package data.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

pytest.importorskip("hatchling", reason="building the wheel needs hatchling (the dev extra)")

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
SHIPPED = {"default.yaml", "themes.yaml", "sd15.yaml", "sdxl.yaml", "fast.yaml", "fast-sdxl.yaml", "fast-approx.yaml"}


def _run(*cmd: str | Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
                          check=False)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    done = _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                "--disable-pip-version-check", "-w", dist, REPO, cwd=dist)
    assert done.returncode == 0, done.stderr
    (found,) = dist.glob("product_scene-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A venv with the wheel installed by pip; returns its bin folder."""
    venv = tmp_path_factory.mktemp("venv")
    assert _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=venv).returncode == 0
    python = venv / "bin" / "python"
    done = _run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
                "--disable-pip-version-check", wheel, cwd=venv)
    assert done.returncode == 0, done.stderr
    purelib = _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=venv).stdout.strip()
    (Path(purelib) / "zz_shared_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv / "bin"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    return {**env, "HF_HUB_OFFLINE": "1", "NO_COLOR": "1"}


def test_the_wheel_ships_configs_inside_the_package(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    assert top == {"pipeline", "flows", "review_server", wheel.name.split("-")[0] + "-0.1.0.dist-info"}, top
    data = {Path(n).name for n in names if n.startswith("pipeline/config/data/")}
    assert data == SHIPPED
    assert "pipeline/report/template.html" in names and "review_server/static/index.html" in names


def test_run_and_doctor_work_outside_the_repository(installed, tmp_path):
    work = tmp_path / "elsewhere"
    work.mkdir()
    where = _run(installed / "python", "-c", "import pipeline, json; print(json.dumps(pipeline.__file__))",
                 cwd=work, env=_env())
    assert Path(json.loads(where.stdout)).is_relative_to(installed.parent), where.stdout + where.stderr

    assert _run(installed / "product-scene", "samples", "all", cwd=work, env=_env()).returncode == 0
    (work / "photos").mkdir()
    for name in ("bottle_teal.png", "bottle_teal.json"):
        shutil.copy(work / "all" / name, work / "photos" / name)
    done = _run(installed / "product-scene", "run", "photos", "out", "--config", "default", "--theme", "oak-table",
                "--size", "256x256", "--workers", "1", "--no-progress", "--batch-id", "b1", cwd=work, env=_env())
    assert done.returncode == 0, done.stderr
    report = json.loads((work / "out" / "b1" / "report.json").read_text())
    assert report["summary"]["total"] == 1 and report["summary"]["errors"] == 0

    doctor = _run(installed / "product-scene", "doctor", cwd=work, env=_env())
    assert doctor.returncode == 0, doctor.stderr
    assert "[ok] scene: studio" in doctor.stdout and "scene: diffusion [sd15.yaml]" in doctor.stdout
    bad = work / "bad.yaml"
    bad.write_text("backends:\n  difusion: {}\n")
    refused = _run(installed / "product-scene", "doctor", "--config", bad, cwd=work, env=_env())
    assert refused.returncode == 2 and "backends.difusion: unknown key; did you mean 'diffusion'?" in " ".join(
        refused.stderr.split())
