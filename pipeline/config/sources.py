"""Where weights come from, as config data: :class:`ModelSource` and its string shorthand.

A :class:`ModelSource` is plain config data (a YAML mapping, or the string shorthand below);
:func:`pipeline.models.sources.resolve_source` checks it against this machine. It lives with the
config models so that the whole config (``backends.diffusion`` included) is validated at load
without importing the loaders.

String shorthand: ``"owner/name"`` or ``"owner/name@revision"`` is a hub id; anything starting
with ``/``, ``./``, ``../`` or ``~``, or ending in a weight suffix, is a local path.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

SAFE_SUFFIXES = (".safetensors",)
PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin")
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class ModelSource(BaseModel):
    """One model's weights.

    repo:      hub id (``owner/name``); with ``revision`` (a 40-hex commit pins it; a branch such as
               ``main`` is recorded as unpinned in provenance).
    path:      local folder (``save_pretrained`` layout) or single weight file.
    subfolder: inside the repo or folder (``unet``, ``models/image_encoder``...).
    filename:  a single file inside ``repo`` (e.g. an original SAM checkpoint on the hub).
    variant:   weight variant (``fp16``) for folders and repos that publish one.
    config:    single files only: the diffusers config to build the model from (hub id or folder).
    allow_pickle: accept ``.ckpt/.pt/.pth/.bin`` single files (loaded with ``weights_only=True``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    repo: str | None = None
    revision: str | None = None
    path: str | None = None
    subfolder: str | None = None
    filename: str | None = None
    variant: str | None = None
    config: str | None = None
    allow_pickle: bool = False

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        return parse_source_string(value)

    @model_validator(mode="after")
    def _exactly_one(self) -> ModelSource:
        if (self.repo is None) == (self.path is None):
            raise ValueError(f"model source needs exactly one of 'repo' or 'path', got repo={self.repo!r} path={self.path!r}")
        if self.repo is not None and not HUB_ID.match(self.repo):
            raise ValueError(f"repo must look like 'owner/name', got {self.repo!r}")
        if self.path is not None and (self.revision is not None or self.filename is not None):
            raise ValueError("'revision' and 'filename' apply to hub repos only; a local 'path' has neither")
        return self

    def describe(self) -> str:
        """Short human form: ``owner/name@rev[/subfolder]`` or the path."""
        if self.repo is not None:
            text = f"{self.repo}@{self.revision or 'main'}"
            extra = "/".join(p for p in (self.subfolder, self.filename) if p)
            return f"{text}:{extra}" if extra else text
        return self.path if not self.subfolder else f"{self.path}/{self.subfolder}"


def parse_source_string(text: str) -> dict[str, Any]:
    """``"owner/name@rev"`` -> ``{"repo", "revision"}``; a path -> ``{"path"}``."""
    text = text.strip()
    if not text:
        raise ValueError("model source string is empty")
    looks_local = text.startswith(("/", "./", "../", "~")) or text.endswith(SAFE_SUFFIXES + PICKLE_SUFFIXES)
    repo, _, rev = text.partition("@")
    if not looks_local and HUB_ID.match(repo):
        return {"repo": repo, "revision": rev or None}
    return {"path": text}
