"""Write ``configs/default.yaml`` from the models: every setting, its default, its description.

``python -m pipeline.config.defaults`` (``make default-config``) rewrites the file;
``--check`` exits 1 when the file on disk differs (``tests/config/test_defaults.py`` runs the
same comparison), so a setting added to a model without regenerating the file fails the tests.
"""

from __future__ import annotations

import argparse
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel

from pipeline.config.models import PipelineConfig

HEADER = """\
# The defaults, written out: every setting with its default value. Generated from the config
# models by `make default-config` (python -m pipeline.config.defaults); do not edit by hand.
# Every key is optional: a config file only needs the values it changes.
# `product-scene run SRC DEST --config configs/default.yaml` behaves exactly like no --config.
"""
MAX_LISTED_NAMES = 8
"""Choices longer than this are summarised in the comment (the ONNX presets)."""
COMMENT_COLUMN = 40
"""Column where the end-of-line comments start (values longer than that push them right)."""


def default_yaml() -> str:
    """The text of ``configs/default.yaml``: :data:`HEADER`, then one line per setting."""
    lines: list[str] = []
    _model_lines(PipelineConfig, PipelineConfig().model_dump(mode="json"), 0, lines)
    return HEADER + "\n".join(lines) + "\n"


def _model_lines(model: type[BaseModel], values: dict[str, Any], depth: int, out: list[str]) -> None:
    indent = "  " * depth
    for name, field in model.model_fields.items():
        nested = _section_model(field.annotation)
        value = values.get(name)
        if nested is not None and isinstance(value, dict):
            out.append(_with_comment(f"{indent}{name}:", field.description))
            _model_lines(nested, value, depth + 1, out)
        else:
            out.append(_with_comment(f"{indent}{name}: {_scalar(value)}", _comment(field.annotation, field.description)))


def _section_model(annotation: Any) -> type[BaseModel] | None:
    """The model of a nested section (``ShadowConfig``), not of an optional one (``DiffusionConfig | None``)."""
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _scalar(value: Any) -> str:
    """One YAML value in flow style (``null``, ``0.35``, ``'1:1'``, ``[1024, 768]``)."""
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10_000).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()


def _comment(annotation: Any, description: str | None) -> str | None:
    """The field's description, with the allowed names when it is a choice (``a | b | c``)."""
    names = _literal_names(annotation)
    if len(names) > MAX_LISTED_NAMES:
        choice = f"{', '.join(names[:3])}, ... ({len(names)} names: pipeline/config/names.py)"
    else:
        choice = " | ".join(names) if names else None
    return "; ".join(p for p in (choice, description) if p) or None


def _literal_names(annotation: Any) -> list[str]:
    if typing.get_origin(annotation) is Literal:
        return [str(a) for a in typing.get_args(annotation)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [n for arg in typing.get_args(annotation) for n in _literal_names(arg)]
    return []


def _with_comment(line: str, comment: str | None) -> str:
    return f"{line.ljust(COMMENT_COLUMN - 1)} # {comment}" if comment else line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write configs/default.yaml from the config models.")
    parser.add_argument("path", nargs="?", type=Path, default=Path("configs/default.yaml"))
    parser.add_argument("--check", action="store_true", help="exit 1 if the file differs instead of writing it")
    args = parser.parse_args(argv)
    text = default_yaml()
    if args.check:
        same = args.path.is_file() and args.path.read_text(encoding="utf-8") == text
        if not same:
            sys.stderr.write(f"{args.path} is out of date: run `make default-config`\n")
        return 0 if same else 1
    args.path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
