#!/usr/bin/env bash
# The one prepared GPU run: bench/gpu.py (stock diffusers vs our backend, levers, equality and
# approximation checks) then bench/gpu_e2e.py (product-scene run --backend diffusion end to end on
# full-size random-weight SD1.5 and SDXL folders loaded through `path:` presets).
#
# Prepare here, once (downloads the wheels the device lacks into .whl/, ignored by git):
#   bash bench/gpu_wheels.sh
# Run on the lent GPU, in one call of the device tool (at most ~7.5 of its 15 minutes, plus the
# machine's start; both parts save their JSON as they go, so a timeout keeps what was measured):
#   run(command="bash bench/gpu_device.sh all", carry=[".whl"], timeout_s=480)
# A rerun of one part only:  bash bench/gpu_device.sh bench   |   bash bench/gpu_device.sh e2e
# Dry run here on the CPU, tiny shapes, same steps (no wheels, no nvidia-smi):
#   PY=.venv/bin/python OUT=/tmp/gpu-out bash bench/gpu_device.sh all --tiny
#
# Everything lands under $OUT (at most 8 files come back): card.txt, gpu.json, gpu.log, profile.txt
# (top operators of one stock and one CUDA-graph call, GPU-busy share), RESULTS-fragment.md (append
# it to bench/RESULTS.md), e2e.json, e2e.log. Pass BENCH_COMMIT=<sha> (the copy there has no .git). The tables are printed
# last. Budgets (seconds, env): BENCH_BUDGET_S (rows that would start later are skipped, reported
# as such), BENCH_TIMEOUT_S and E2E_TIMEOUT_S (hard stops per part, so one hang cannot eat the call).
set -uo pipefail

STAGE="${1:-all}"
TINY="${2:-}"
case "$STAGE" in all|bench|e2e) ;; *) echo "usage: $0 all|bench|e2e [--tiny]" >&2; exit 2 ;; esac
PY="${PY:-python3}"
OUT="${OUT:-/tmp/gpu-out}"
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
BENCH_BUDGET_S="${BENCH_BUDGET_S:-150}"
BENCH_TIMEOUT_S="${BENCH_TIMEOUT_S:-220}"
E2E_TIMEOUT_S="${E2E_TIMEOUT_S:-200}"

if [ "$TINY" = "--tiny" ]; then
  BENCH_ARGS=(--device cpu --workloads sd15-512-b1 sdxl-1024-b1 --profile stock:sd15-512-b1 ours+graphs:sd15-512-b1)
  E2E_ARGS=(--tiny --products 2)
  export PYTHONPATH="$PWD"
  echo "tiny dry run on the CPU" | tee "$OUT/card.txt"
else
  BENCH_ARGS=(--device cuda --repeats 2 --profile stock:sd15-512-b1 ours+graphs:sd15-512-b1)
  E2E_ARGS=()
  if ls .whl/*.whl >/dev/null 2>&1; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
      || { echo "wheel install failed" >&2; exit 3; }
    export PYTHONPATH="/tmp/site:$PWD"
  else
    echo "no .whl/ here: run bench/gpu_wheels.sh first and carry .whl" >&2; exit 3
  fi
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,temperature.gpu --format=csv | tee "$OUT/card.txt"
fi
"$PY" -c "import torch, diffusers, transformers, pydantic; print('torch', torch.__version__, 'diffusers', diffusers.__version__, 'transformers', transformers.__version__, 'pydantic', pydantic.VERSION, 'cuda', torch.cuda.is_available())" \
  | tee -a "$OUT/card.txt" || { echo "imports failed" >&2; exit 3; }

rc=0
if [ "$STAGE" = all ] || [ "$STAGE" = bench ]; then
  timeout "$BENCH_TIMEOUT_S" "$PY" bench/gpu.py "${BENCH_ARGS[@]}" --approx --budget-s "$BENCH_BUDGET_S" \
    --out "$OUT/gpu.json" --results "$OUT/RESULTS-fragment.md" --profile-out "$OUT/profile.txt" >"$OUT/gpu.log" 2>&1 || rc=$?
  tail -n 5 "$OUT/gpu.log"
fi
if [ "$STAGE" = all ] || [ "$STAGE" = e2e ]; then
  timeout "$E2E_TIMEOUT_S" "$PY" bench/gpu_e2e.py "${E2E_ARGS[@]}" --out "$OUT/e2e.json" >"$OUT/e2e.log" 2>&1 || rc=$((rc ? rc : $?))
  tail -n 5 "$OUT/e2e.log"
fi

# The tables last (the device tool returns the end of the output).
"$PY" - "$OUT" <<'EOF'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
print((out / "card.txt").read_text().strip())
for name in ("gpu.json", "e2e.json"):
    p = out / name
    if p.exists():
        print(f"\n== {name}\n" + json.loads(p.read_text())["table"])
    else:
        print(f"\n== {name}: not written (see {name.replace('.json', '.log')})")
EOF
echo "exit $rc"
exit "$rc"
