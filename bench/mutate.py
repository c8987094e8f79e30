"""Mutation score of the heuristic modules (issue 17): ``make mutate``, never part of ``make test``.

Runs cosmic-ray (a kept library) over each module given: it changes one thing in the source at a
time (a number +/- 1, a comparison or arithmetic operator swapped, ``not`` added, a loop emptied,
...), runs the module's tests, and counts the mutant killed when a test fails. This script only
picks the tests for each module, filters the operators, and prints killed / total per module.

    python bench/mutate.py pipeline/segment/shadow_predicate.py pipeline/score/gate.py
    python bench/mutate.py --no-golden ...    # the score without the golden pins (issue 17's "before")

Tests: :data:`MODULE_TESTS` names fast tests per module (a surviving mutant costs one run of
them, so each should take seconds) and :data:`GOLDEN_TESTS` the golden pins that cover it; a
module not listed gets its stage's whole test folder (slow). Tests run with ``-x``, fast ones
first, so a killed mutant usually costs only the fast tests and a survivor also pays for the pins.

Operators: all of cosmic-ray's except :data:`EXCLUDED_OPERATORS`: replacements *into* bitwise,
shift, power, modulo, floor-division and matmul operators (on the float arrays of these modules
they raise or give absurd values that any test calling the code kills, so they would inflate the
score without testing a heuristic) and removing a decorator (``@dataclass``: the same).

``--reuse-kills DIR`` copies the killed results of an earlier run in DIR for the same module
source (sha256) when that run's tests were a subset of this run's: a mutant a test set killed is
killed by a larger set too, so only its survivors are run again. Sessions, a list of the
survivors (file:line, operator) and their diffs go to ``--out`` (bench/out/mutate/ by default, gitignored).
The source files are changed in place while a mutant runs and restored after it: do not edit
them during a run.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

log = logging.getLogger("mutate")

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "mutate"
SEGMENT_GOLDEN = "tests/segment/test_golden.py"
GATE_GOLDEN = "tests/score/test_gate_golden.py"
# Fast tests that exercise each module (a few seconds each run), in the order they run.
MODULE_TESTS: dict[str, tuple[str, ...]] = {
    "pipeline/segment/shadow_predicate.py": ("tests/segment/test_shadow_predicate.py",
                                             "tests/segment/test_shadows.py", "tests/segment/test_classical.py"),
    "pipeline/segment/work_scale.py": ("tests/segment/test_work_scale.py", "tests/segment/test_pockets.py",
                                       "tests/segment/test_classical.py"),
    "pipeline/segment/background.py": ("tests/segment/test_classical.py", "tests/segment/test_pockets.py",
                                       "tests/segment/test_shadows.py"),
    "pipeline/score/gate.py": ("tests/score/test_gate.py", "tests/score/test_reasons.py",
                               "tests/score/test_gate_catches.py"),
    "pipeline/score/cutout.py": ("tests/score/test_gate.py", "tests/score/test_gate_catches.py",
                                 "tests/score/test_cutout_regions.py"),
}
# The golden pins (issue 17) whose inputs the module's constants shape.
GOLDEN_TESTS: dict[str, tuple[str, ...]] = {
    "pipeline/segment/shadow_predicate.py": (SEGMENT_GOLDEN, GATE_GOLDEN),
    "pipeline/segment/work_scale.py": (SEGMENT_GOLDEN,),
    "pipeline/segment/background.py": (SEGMENT_GOLDEN, GATE_GOLDEN),
    "pipeline/score/gate.py": (GATE_GOLDEN,),
    "pipeline/score/cutout.py": (GATE_GOLDEN,),
}
_NONSENSE = "(Pow|LShift|RShift|BitXor|MatMult|Mod|FloorDiv)"
EXCLUDED_OPERATORS = (
    rf"core/ReplaceBinaryOperator_\w+_{_NONSENSE}$",  # into an operator these float modules never mean
    rf"core/ReplaceBinaryOperator_(Add|Sub|Mul|Div|{_NONSENSE[1:-1]})_(BitOr|BitAnd)$",  # arithmetic -> bitwise
    r"core/RemoveDecorator",  # @dataclass removed: the module stops working
)
ANNOTATION = "annotation: never evaluated (from __future__ import annotations), an equivalent mutant"
TIMEOUT_FACTOR = 4.0  # a mutant whose tests take this many times the clean run's time is killed (a hang)
TIMEOUT_MIN_S = 60.0


def tests_for(module: str, golden: bool) -> list[str]:
    """The test files for ``module`` (repository-relative path), fast ones first."""
    stage = Path(module).parts[1] if module.startswith("pipeline/") else ""
    golden_tests = GOLDEN_TESTS.get(module, (SEGMENT_GOLDEN, GATE_GOLDEN))
    if module in MODULE_TESTS:
        fast = list(MODULE_TESTS[module])
    else:
        fast = [f"tests/{stage}" if (ROOT / "tests" / stage).is_dir() else "tests"]
        fast += [f"--ignore={g}" for g in (SEGMENT_GOLDEN, GATE_GOLDEN)]
    return fast + (list(golden_tests) if golden else [])


def _command(tests: list[str]) -> list[str]:
    return [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *tests]


def _config(module: str, tests: list[str], timeout: float) -> str:
    cmd = " ".join(_command(tests))
    excluded = ", ".join(json.dumps(e) for e in EXCLUDED_OPERATORS)
    return (f'[cosmic-ray]\nmodule-path = {json.dumps(module)}\ntimeout = {timeout:.0f}\nexcluded-modules = []\n'
            f'test-command = {json.dumps(cmd)}\n\n[cosmic-ray.distributor]\nname = "local"\n\n'
            f'[cosmic-ray.filters.operators-filter]\nexclude-operators = [{excluded}]\n')


def _cosmic_ray(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "cosmic_ray.cli", *args], cwd=ROOT, check=True)


def _annotation_spans(source: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """(start, end) positions, (line 1-based, column 0-based in characters), of the annotations of
    a module that has ``from __future__ import annotations`` (then they are strings, never
    evaluated, so a mutant inside one is equivalent); [] for other modules."""
    tree = ast.parse(source)
    if not any(isinstance(n, ast.ImportFrom) and n.module == "__future__" and
               any(a.name == "annotations" for a in n.names) for n in tree.body):
        return []
    lines = source.splitlines()

    def pos(line: int, byte_col: int) -> tuple[int, int]:  # ast columns count UTF-8 bytes
        return line, len(lines[line - 1].encode()[:byte_col].decode(errors="ignore"))

    spans = []
    for node in ast.walk(tree):
        notes = []
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            notes.append(node.returns)
        elif isinstance(node, ast.arg | ast.AnnAssign):
            notes.append(node.annotation)
        spans += [(pos(a.lineno, a.col_offset), pos(a.end_lineno, a.end_col_offset)) for a in notes if a is not None]
    return spans


def _skip_annotations(db: WorkDB, source: str) -> int:
    """Mark the mutants inside annotations skipped (see :func:`_annotation_spans`)."""
    spans = _annotation_spans(source)
    n = 0
    for item in db.pending_work_items:
        m = item.mutations[0]
        if any(a <= tuple(m.start_pos) and tuple(m.end_pos) <= b for a, b in spans):
            db.set_result(item.job_id, WorkResult(worker_outcome=WorkerOutcome.SKIPPED, output=ANNOTATION))
            n += 1
    return n


def _earlier_kills(reuse: Path, name: str, sha: str, tests: list[str]) -> dict:
    """{(operator, occurrence): result} of the mutants an earlier run in ``reuse`` killed, when it
    ran on the same source (sha256) with a subset of ``tests`` (files; tests are only ever added);
    {} otherwise. Read before this run replaces the session, so ``reuse`` may be ``--out``."""
    meta, session = reuse / f"{name}.json", reuse / f"{name}.sqlite"
    if not (meta.is_file() and session.is_file()):
        return {}
    old = json.loads(meta.read_text())
    if old["sha256"] != sha or not set(old["tests"]) <= set(tests):
        log.warning("%s: not reusing %s (other source, or tests not a subset)", name, reuse)
        return {}
    with use_db(str(session), WorkDB.Mode.open) as db:
        return {(item.mutations[0].operator_name, item.mutations[0].occurrence): result
                for item, result in db.completed_work_items
                if result.worker_outcome != WorkerOutcome.SKIPPED and result.is_killed}


def _reuse_kills(db: WorkDB, killed: dict) -> int:
    """Copy the earlier kills onto the same mutations (operator, occurrence) in ``db``."""
    n = 0
    for item in db.pending_work_items:
        key = (item.mutations[0].operator_name, item.mutations[0].occurrence)
        if key in killed:
            db.set_result(item.job_id, killed[key])
            n += 1
    return n


def mutate_module(module: str, golden: bool, out: Path, reuse: Path | None) -> dict:
    """Run cosmic-ray over one module; returns its counts and survivors."""
    source = (ROOT / module).read_bytes()
    sha = hashlib.sha256(source).hexdigest()
    tests = tests_for(module, golden)
    name = module.replace("/", "__").removesuffix(".py")
    session, config, meta_path = out / f"{name}.sqlite", out / f"{name}.toml", out / f"{name}.json"

    start = time.monotonic()  # the clean run: the tests must pass, and it sets the timeout
    clean = subprocess.run(_command(tests), cwd=ROOT, capture_output=True, text=True, check=False)
    clean_s = time.monotonic() - start
    if clean.returncode != 0:
        raise SystemExit(f"{module}: its tests fail without a mutation:\n{clean.stdout[-3000:]}")
    config.write_text(_config(module, tests, max(TIMEOUT_MIN_S, TIMEOUT_FACTOR * clean_s)))
    earlier = _earlier_kills(reuse, name, sha, tests) if reuse is not None else {}
    session.unlink(missing_ok=True)
    _cosmic_ray("init", str(config), str(session))
    subprocess.run([sys.executable, "-m", "cosmic_ray.tools.filters.operators_filter", str(session), str(config)],
                   cwd=ROOT, check=True)
    with use_db(str(session), WorkDB.Mode.open) as db:
        in_notes = _skip_annotations(db, source.decode())
        reused = _reuse_kills(db, earlier)
    # Written now, so that a run stopped halfway is reused only under the tests it ran with.
    meta_path.write_text(json.dumps({"module": module, "sha256": sha, "tests": tests}, indent=1))
    log.info("%s: clean run %.1f s; tests: %s; %d mutants in annotations left out; %d kills reused",
             module, clean_s, " ".join(tests), in_notes, reused)
    start = time.monotonic()
    _cosmic_ray("exec", str(config), str(session))
    run_s = time.monotonic() - start
    if (ROOT / module).read_bytes() != source:  # cosmic-ray restores each file; make sure
        (ROOT / module).write_bytes(source)
        raise SystemExit(f"{module} was left mutated; restored it")

    killed = survived = skipped = in_annotation = 0
    survivors, diffs = [], []
    with use_db(str(session), WorkDB.Mode.open) as db:
        for item, result in db.completed_work_items:
            m = item.mutations[0]
            if result.worker_outcome == WorkerOutcome.SKIPPED:
                skipped += 1
                in_annotation += result.output == ANNOTATION
            elif result.test_outcome == TestOutcome.SURVIVED:
                survived += 1
                survivors.append((m.start_pos[0], m.operator_name.removeprefix("core/"), m.occurrence))
                diffs.append(result.diff or "")
        killed = sum(1 for _ in db.completed_work_items) - skipped - survived
        pending = len(db.pending_work_items)
    meta = {"module": module, "sha256": sha, "tests": tests, "killed": killed, "survived": survived,
            "filtered": skipped - in_annotation, "in_annotations": in_annotation, "pending": pending, "reused_kills": reused, "run_s": round(run_s, 1),
            "survivors": sorted(survivors)}
    meta_path.write_text(json.dumps(meta, indent=1))
    out.joinpath(f"{name}.survivors.diff").write_text("\n".join(diffs))
    return meta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="Prints killed / total per module and in all; survivors go to --out.")
    parser.add_argument("modules", nargs="+", help="source files to mutate, e.g. pipeline/score/gate.py")
    parser.add_argument("--no-golden", action="store_true",
                        help="leave out the golden pins (tests/segment/test_golden.py, tests/score/test_gate_golden.py)")
    parser.add_argument("--out", type=Path, default=OUT, help="folder for sessions and survivor lists")
    parser.add_argument("--reuse-kills", type=Path, default=None, metavar="DIR",
                        help="reuse the kills of an earlier run's --out folder (same source, subset of tests)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    rows = []
    for module in args.modules:
        module = Path(module).resolve().relative_to(ROOT).as_posix()
        rows.append(mutate_module(module, not args.no_golden, args.out, args.reuse_kills))
    print(f"\nmutation score ({'without' if args.no_golden else 'with'} the golden pins)")
    for r in rows:
        total = r["killed"] + r["survived"]
        print(f"  {r['module']:45s} {r['killed']:4d} / {total:4d} killed = {r['killed'] / max(total, 1):6.1%}"
              f"   ({r['run_s']:.0f} s; left out: {r['filtered']} by operator, {r['in_annotations']} in annotations;"
              f" {r['reused_kills']} kills reused)")
    killed, total = sum(r["killed"] for r in rows), sum(r["killed"] + r["survived"] for r in rows)
    print(f"  {'all':45s} {killed:4d} / {total:4d} killed = {killed / max(total, 1):6.1%}")
    print(f"survivors (line, operator, occurrence): {args.out}/*.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
