"""Config errors: one exception type, and pydantic's errors as one line per problem.

Every mistake in a config, a preset or a themes file raises :class:`ConfigError` (a
``ValueError``), whatever reads it; the command line maps it to exit code 2 in one place
(``pipeline.cli.main``), before anything is listed or written.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError


class ConfigError(ValueError):
    """A config, preset or themes file that cannot be used; the message names the file and the field."""


def explain_validation_error(exc: ValidationError, root: type[BaseModel]) -> str:
    """One line per problem, ``dotted.key: message``; unknown keys name the nearest valid key of
    ``root`` (the model that was validated) at that place."""
    lines = []
    for err in exc.errors():
        dotted = ".".join(str(p) for p in err["loc"])
        where = f"{dotted}: " if dotted else ""
        if err["type"] == "extra_forbidden":
            valid = fields_at(root, err["loc"][:-1])
            close = difflib.get_close_matches(str(err["loc"][-1]), valid, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else f"; valid keys: {', '.join(valid)}"
            lines.append(f"{where}unknown key{hint}")
        elif err["type"] == "literal_error":  # a name from a fixed list (backend, surface, mode, ...)
            names = re.findall(r"'([^']*)'", str(err.get("ctx", {}).get("expected", "")))
            close = difflib.get_close_matches(str(err.get("input")), names, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            lines.append(f"{where}{err.get('input')!r} is not one of {', '.join(names)}{hint}")
        elif err["type"] == "value_error":  # a validator's own message names what is wrong
            lines.append(f"{where}{str(err['msg']).removeprefix('Value error, ')}")
        else:
            lines.append(f"{where}{err['msg']} (got {err.get('input')!r})")
    return "; ".join(lines)


def fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the (nested) model at ``loc`` ([] when ``loc`` leaves the typed models).

    Optional sections (``X | None``) and tuples of models (``tuple[X, ...]``, indexed by an int
    in ``loc``) are followed.
    """
    for part in loc:
        if isinstance(part, int):  # an index into a tuple of models: the model is already current
            continue
        field = model.model_fields.get(str(part))
        nested = _model_in(getattr(field, "annotation", None))
        if nested is None:
            return []
        model = nested
    return list(model.model_fields)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model an annotation holds: itself, or inside ``X | None`` / ``tuple[X, ...]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, tuple):
        for arg in typing.get_args(annotation):
            if (found := _model_in(arg)) is not None:
                return found
    return None
