# product-scene — two commands for a newcomer:
#   make demo   create .venv, install, draw the sample products, run the pipeline, print report.html
#   make test   install the dev extras and run the whole suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --disable-pip-version-check -q -c constraints.txt
DEMO   := demo
PYTEST_ARGS ?=

.PHONY: demo test install install-dev install-flows test-flows test-core default-config lint-imports bench bench-flow bench-batch bench-scale gate-eval eval-fix mutate clean help
.DEFAULT_GOAL := help

help:
	@echo "make demo    - install (CPU, no weights), draw samples, run them, print the report path"
	@echo "make test    - install everything (incl. torch, diffusers, prefect) and run the tests"
	@echo "make install-flows - orchestration only (Prefect, s3fs, the CPU pipeline; no torch): a small venv"
	@echo "make test-flows    - the flow tests in that venv (real SeaweedFS S3 + Prefect servers)"
	@echo "make bench   - per-stage CPU timings on the samples and ../shared/products"
	@echo "make bench-batch - the whole CLI (outputs + reports) at --workers 1 and all cores, beside main's code"
	@echo "make bench-scale - 100 and 1,000 photos (and 1,000 on SeaweedFS): cost per photo, reruns, report size"
	@echo "make bench-flow - Prefect flow overhead vs calling the pipeline directly (100 images)"
	@echo "make gate-eval - the gate's catch and false-alarm rates per defect (writes docs/gate.md)"
	@echo "make test-core - the suite on a core install (.venv-core: no torch, Prefect, Playwright, onnx, scikit-image)"
	@echo "make lint-imports - check the import graph (layers, no Prefect/web in pipeline/, no cycles)"
	@echo "make default-config - rewrite configs/default.yaml from the config models (every setting, its default)"
	@echo "make eval-fix - simulated reviewer: clicks to fix bad cut-outs (NoC@0.95/0.97, ms per click)"
	@echo "make mutate  - mutation score (cosmic-ray) of the heuristic modules, with the golden pins (not in make test)"
	@echo "make clean   - remove .venv and demo/"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.core: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e .
	@touch $@

$(VENV)/.dev: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e ".[all,dev]"
	$(PIP) --no-deps rapidocr-onnxruntime  # [ocr]: its wheel declares opencv-python (see pyproject)
	@touch $@ $(VENV)/.core

$(VENV)/.flows: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e ".[flows,formats,dev]"
	@touch $@ $(VENV)/.core

install: $(VENV)/.core
install-dev: $(VENV)/.dev
install-flows: $(VENV)/.flows

demo: $(VENV)/.core
	@$(BIN)/product-scene samples $(DEMO)/samples >/dev/null
	@$(BIN)/product-scene run $(DEMO)/samples $(DEMO)/out --theme marble-counter --reprocess --batch-id demo-$$(date -u +%Y%m%dT%H%M%SZ)

test: $(VENV)/.dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.core
	$(BIN)/python bench/bench_stages.py

bench-batch: $(VENV)/.core
	$(BIN)/python bench/bench_batch.py

bench-scale: $(VENV)/.dev
	$(BIN)/python bench/bench_scale.py

test-flows: $(VENV)/.flows
	$(BIN)/python -m pytest tests/flows $(PYTEST_ARGS)

.venv-core/.core: pyproject.toml constraints.txt
	$(PYTHON) -m venv .venv-core
	.venv-core/bin/python -m pip install --disable-pip-version-check -q -c constraints.txt -e . pytest hypothesis
	@touch $@

test-core: .venv-core/.core
	.venv-core/bin/python -m pytest $(PYTEST_ARGS)

lint-imports: $(VENV)/.dev
	$(BIN)/lint-imports --no-cache

default-config: $(VENV)/.core
	$(BIN)/python -m pipeline.config.defaults configs/default.yaml

clean:
	rm -rf $(VENV) .venv-core $(DEMO)

bench-flow: $(VENV)/.dev
	$(BIN)/python bench/bench_flow_overhead.py -n 100

eval-fix: $(VENV)/.core
	$(PIP) -e ".[review]"
	$(BIN)/python bench/eval_fix.py $(EVAL_FIX_ARGS)

gate-eval: $(VENV)/.core
	$(PIP) -e ".[bench]"
	$(BIN)/python bench/gate_eval.py

# Mutation testing (issue 17), outside `make test`: cosmic-ray mutates each module in MUTATE_PATHS one
# change at a time, runs that module's tests (bench/mutate.py: MODULE_TESTS, fast ones first, then the
# golden pins) and prints killed / total per module. Default scope: the shared shadow predicate's
# presets, the work-size scaling and the gate's checks: 232 mutants, ~14 minutes without the pins and
# ~20 with them on 2 busy cores (a surviving mutant also runs the pins, ~35 s). Widen it, e.g. MUTATE_PATHS="pipeline/segment/background.py pipeline/score/cutout.py"
# (~350 and ~960 mutants; modules without a MODULE_TESTS entry run their stage's whole test folder).
# MUTATE_ARGS=--no-golden leaves the golden pins out (issue 17's "before" score).
MUTATE_PATHS ?= pipeline/segment/shadow_predicate.py pipeline/segment/work_scale.py pipeline/score/gate.py
MUTATE_ARGS ?=
mutate: $(VENV)/.dev
	$(BIN)/python bench/mutate.py $(MUTATE_PATHS) $(MUTATE_ARGS)
