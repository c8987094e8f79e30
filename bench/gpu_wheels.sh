#!/usr/bin/env bash
# Download the wheels the GPU machine lacks (its python3 has torch and transformers, no diffusers,
# no pydantic) into .whl/ (ignored by git), for bench/gpu_device.sh. Run here, where PyPI is
# reachable; then name .whl in the device tool's `carry`. About 10 MB.
set -euo pipefail
DEST="${1:-.whl}"
PIP="${PIP:-python3 -m pip}"
mkdir -p "$DEST"
# Versions: diffusers as pinned in constraints.txt; the rest as the suite runs with.
$PIP download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d "$DEST" \
  diffusers==0.42.1 pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5 \
  typing-extensions==4.16.0 importlib-metadata==10.2.0
ls -la "$DEST"
