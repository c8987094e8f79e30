"""`--no-progress`: no bar of ours, and none of the model libraries' loading bars (tqdm) either."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from pipeline.progress import QUIET_LIBRARY_ENV
from pipeline.samples import write_samples

PROBE = "loading-probe"  # the description of a tqdm bar a stage shows while it loads
# A fresh interpreter (the libraries read the switches when they are first imported, as in a real
# run): a stage that shows a tqdm bar the way diffusers' "Loading pipeline components" does.
SCRIPT = textwrap.dedent(f"""
    import sys
    import pipeline.batch.item as item_module
    from pipeline.cli import main
    real = item_module.process_product
    def loading_then_real(data, **kwargs):
        from tqdm.auto import tqdm
        for _ in tqdm(range(3), desc={PROBE!r}):
            pass
        return real(data, **kwargs)
    item_module.process_product = loading_then_real
    sys.exit(main(sys.argv[1:]))
""")


@pytest.mark.parametrize("quiet", [True, False])
def test_no_progress_silences_the_libraries_loading_bars(quiet, tmp_path):
    pytest.importorskip("tqdm")
    write_samples(tmp_path / "in", names=["mug_red"])
    env = {k: v for k, v in os.environ.items() if k not in QUIET_LIBRARY_ENV}
    flags = ["--no-progress"] if quiet else []
    done = subprocess.run([sys.executable, "-c", SCRIPT, "run", str(tmp_path / "in"), str(tmp_path / "out"),
                           "--workers", "1", "--size", "128x128", *flags],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (PROBE in done.stderr) is not quiet, done.stderr
