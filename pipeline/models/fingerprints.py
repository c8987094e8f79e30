"""What an output depends on besides the config values: themes files, weights, the package.

:func:`output_inputs` is what :meth:`PipelineConfig.config_hash` hashes and what ``meta.json``
records as provenance, so editing a theme, swapping the weights behind a model path or
upgrading the package makes every item new (a rerun recomputes instead of skipping).

Weights are fingerprinted without reading multi-GB files whole: files up to ``FULL_HASH_BYTES``
are hashed entirely (configs, tokenizers, small models), larger ones by size, their first and
last MiB (which hold a safetensors header or a checkpoint's tail) and their relative path.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pipeline
from pipeline.config import PipelineConfig
from pipeline.config.themes import DEFAULT_THEMES_FILE

FULL_HASH_BYTES = 8 << 20
EDGE_BYTES = 1 << 20
PATH_KEYS = ("path", "checkpoint", "model", "file")  # config keys whose values may name files


def file_fingerprint(path: Path) -> str:
    """sha256 hex of a file (whole when small; size + first/last MiB when large)."""
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with path.open("rb") as fh:
        if size <= FULL_HASH_BYTES:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        else:
            digest.update(fh.read(EDGE_BYTES))
            fh.seek(size - EDGE_BYTES)
            digest.update(fh.read(EDGE_BYTES))
    return digest.hexdigest()


def folder_fingerprint(folder: Path) -> str:
    """One sha256 over every file under ``folder`` (relative path + :func:`file_fingerprint`)."""
    digest = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            digest.update(str(p.relative_to(folder)).encode() + b"\0" + file_fingerprint(p).encode())
    return digest.hexdigest()


def path_fingerprint(value: str) -> str | None:
    """Fingerprint of the file or folder ``value`` names; None when it names neither."""
    path = Path(os.path.expanduser(value))
    try:
        if path.is_file():
            return file_fingerprint(path)
        if path.is_dir():
            return folder_fingerprint(path)
    except OSError:
        return None
    return None


def _model_paths(node: Any, dotted: str = "") -> dict[str, str]:
    """Dotted config key -> string value, for keys that may name a weights file or folder."""
    out: dict[str, str] = {}
    if isinstance(node, dict):
        for key, value in node.items():
            out.update(_model_paths(value, f"{dotted}.{key}" if dotted else str(key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out.update(_model_paths(value, f"{dotted}[{i}]"))
    elif isinstance(node, str) and node and any(k in dotted.rsplit(".", 1)[-1] for k in PATH_KEYS):
        out[dotted] = node
    return out


def output_inputs(config: PipelineConfig) -> dict[str, Any]:
    """Everything the outputs depend on, as JSON-ready data (see the module docstring).

    ``{"values": sha256 of the config values, "themes": {"default"|"themes_file": sha256}, "weights": {config key:
    fingerprint}, "package_version": str}``. Weights that do not exist here are left out (the
    backend reports them missing when it loads).
    """
    values = config.model_dump(mode="json")
    themes = {}
    for name, path in (("default", DEFAULT_THEMES_FILE), ("themes_file", config.scene.themes_file)):
        if path is not None and Path(path).is_file():
            themes[name] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    weights = {}
    for dotted, value in sorted(_model_paths(values).items()):
        if dotted == "scene.themes_file":
            continue
        if (fp := path_fingerprint(value)) is not None:
            weights[dotted] = fp
    blob = json.dumps(values, sort_keys=True, separators=(",", ":"))
    return {"values": hashlib.sha256(blob.encode()).hexdigest(), "themes": themes, "weights": weights,
            "package_version": str(pipeline.__version__)}


def config_hash(config: PipelineConfig) -> str:
    """Short stable hash of what decides the outputs (16 hex chars): every value, the themes
    files' contents, the weights behind model paths and the package version (:func:`output_inputs`)."""
    blob = json.dumps(output_inputs(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
