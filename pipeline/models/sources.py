"""Where weights come from: a hub id with a pinned revision, a local folder, or a single file.

A :class:`~pipeline.config.sources.ModelSource` is plain config data (a YAML mapping or a string
shorthand; it lives with the config models); :func:`resolve_source` checks it against this machine
and returns a :class:`ResolvedSource` with the keyword arguments every ``from_pretrained`` call
takes and the provenance written to meta.json.

Policy:
- folders and hub repos are loaded with ``use_safetensors=True`` (pickled ``.bin`` refused);
- single files must be ``.safetensors``; ``.ckpt/.pt/.pth/.bin`` only with ``allow_pickle: true``,
  and then only through loaders that call ``torch.load(weights_only=True)`` (diffusers'
  ``load_state_dict`` and :mod:`pipeline.models.sam_loader` do);
- the Hugging Face cache is used as is; with ``HF_HUB_OFFLINE=1`` (or ``local_files_only``) nothing
  is fetched and a repo missing from the cache raises :class:`BackendUnavailableError`.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pipeline.config.sources import PICKLE_SUFFIXES, SAFE_SUFFIXES, ModelSource
from pipeline.errors import BackendUnavailableError
from pipeline.models.fingerprints import folder_fingerprint

_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_TRUE = {"1", "on", "yes", "true"}


@dataclass(frozen=True)
class ResolvedSource:
    """A source checked against this machine.

    kind:     ``hub`` (load by id through the HF cache), ``folder`` or ``file`` (local path).
    location: the hub id, or the absolute local path (for ``file``, the weight file itself).
    """

    kind: Literal["hub", "folder", "file"]
    location: str
    source: ModelSource
    local_files_only: bool
    cache_dir: str | None
    provenance: dict[str, Any] = field(default_factory=dict)

    def pretrained_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for diffusers/transformers ``from_pretrained`` (safetensors only)."""
        kw: dict[str, Any] = {"use_safetensors": True, "local_files_only": self.local_files_only}
        if self.kind == "hub":
            kw["revision"] = self.source.revision or "main"
            if self.cache_dir is not None:
                kw["cache_dir"] = self.cache_dir
        if self.source.subfolder:
            kw["subfolder"] = self.source.subfolder
        if self.source.variant:
            kw["variant"] = self.source.variant
        return kw

    def single_file_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``from_single_file`` (``config`` from the source, when given)."""
        kw: dict[str, Any] = {"local_files_only": self.local_files_only}
        if self.source.config:
            kw["config"] = self.source.config
        if self.cache_dir is not None:
            kw["cache_dir"] = self.cache_dir
        return kw


def hub_offline(local_files_only: bool = False) -> bool:
    """True when nothing may be fetched: ``local_files_only`` or ``HF_HUB_OFFLINE`` set (read now)."""
    if local_files_only:
        return True
    from huggingface_hub import constants

    env = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE
    return bool(constants.HF_HUB_OFFLINE) or env


def resolve_source(
    source: ModelSource, *, cache_dir: str | None = None, local_files_only: bool = False
) -> ResolvedSource:
    """Check ``source`` exists here (local path, or hub cache when offline) and describe it.

    Raises :class:`BackendUnavailableError` when the weights are not here, ``ValueError`` for a
    pickled file without ``allow_pickle`` or a folder with no safetensors weights.
    """
    offline = hub_offline(local_files_only)
    if source.path is not None:
        return _resolve_local(source, offline)
    if source.filename is not None:
        return _resolve_hub_file(source, cache_dir, offline)
    commit = hub_commit(source.repo, source.revision or "main", cache_dir)
    if offline and commit is None:
        raise BackendUnavailableError(
            f"{source.describe()} is not in the Hugging Face cache and the hub is offline "
            f"(HF_HUB_OFFLINE or local_files_only); download it where the hub is reachable, e.g. "
            f"`huggingface-cli download {source.repo} --revision {source.revision or 'main'}`, or point 'path' at a folder"
        )
    prov = _hub_provenance(source, commit)
    return ResolvedSource("hub", source.repo, source, offline, cache_dir, prov)


def _resolve_local(source: ModelSource, offline: bool) -> ResolvedSource:
    """A folder never touches the hub (local_files_only=True); a single file may fetch its
    ``config`` from the hub unless offline."""
    path = Path(source.path).expanduser().resolve()
    if not path.exists():
        raise BackendUnavailableError(f"model path not found: {path} (from {source.path!r})")
    if path.is_file():
        check_weight_file(path, source.allow_pickle)
        prov = {"source": "file", "path": str(path), "sha256": file_sha256(path)}
        return ResolvedSource("file", str(path), source, offline, None, prov)
    folder = path / source.subfolder if source.subfolder else path
    if not folder.is_dir():
        raise BackendUnavailableError(f"model subfolder not found: {folder}")
    check_weight_folder(folder)
    prov = {"source": "folder", "path": str(path), "subfolder": source.subfolder, "configs_sha256": configs_sha256(folder),
            "sha256": folder_fingerprint(folder)}
    return ResolvedSource("folder", str(path), source, True, None, prov)


def _resolve_hub_file(source: ModelSource, cache_dir: str | None, offline: bool) -> ResolvedSource:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    check_weight_file(Path(source.filename), source.allow_pickle)
    try:
        local = hf_hub_download(
            source.repo,
            source.filename,
            subfolder=source.subfolder,
            revision=source.revision or "main",
            cache_dir=cache_dir,
            local_files_only=offline,
        )
    except LocalEntryNotFoundError as exc:
        raise BackendUnavailableError(
            f"{source.describe()} is not in the Hugging Face cache and the hub is offline"
        ) from exc
    prov = _hub_provenance(source, hub_commit(source.repo, source.revision or "main", cache_dir))
    prov.update({"file": str(local), "sha256": file_sha256(Path(local))})
    return ResolvedSource("file", str(local), source, offline, cache_dir, prov)


def _hub_provenance(source: ModelSource, commit: str | None) -> dict[str, Any]:
    revision = source.revision or "main"
    return {
        "source": "hub",
        "repo": source.repo,
        "revision": revision,
        "commit": commit,
        "pinned": bool(_COMMIT.match(revision)),
        "subfolder": source.subfolder,
        "filename": source.filename,
        "variant": source.variant,
    }


def loaded_provenance(resolved: ResolvedSource) -> dict[str, Any]:
    """Provenance after loading: for hub sources the commit is re-read (a download may have filled it)."""
    prov = dict(resolved.provenance)
    if resolved.kind == "hub" or prov.get("source") == "hub":
        prov["commit"] = hub_commit(resolved.source.repo, resolved.source.revision or "main", resolved.cache_dir)
    return prov


def hub_commit(repo: str, revision: str, cache_dir: str | None = None) -> str | None:
    """The commit ``revision`` points at in the local HF cache, or None when not cached."""
    from huggingface_hub import constants

    root = Path(cache_dir) if cache_dir else Path(constants.HF_HUB_CACHE)
    repo_dir = root / ("models--" + repo.replace("/", "--"))
    if _COMMIT.match(revision):
        return revision if (repo_dir / "snapshots" / revision).is_dir() else None
    ref = repo_dir / "refs" / revision
    if not ref.is_file():
        return None
    commit = ref.read_text().strip()
    return commit if (repo_dir / "snapshots" / commit).is_dir() else None


def check_weight_file(path: Path, allow_pickle: bool) -> None:
    """Refuse pickled single files unless ``allow_pickle`` (ValueError naming the file)."""
    suffix = path.suffix.lower()
    if suffix in SAFE_SUFFIXES:
        return
    if suffix in PICKLE_SUFFIXES:
        if allow_pickle:
            return
        raise ValueError(
            f"refusing pickled weights {path.name!r}: use a .safetensors file, or set allow_pickle: true "
            f"to load it with torch.load(weights_only=True)"
        )
    raise ValueError(f"unknown weight file type {path.name!r}; expected one of {SAFE_SUFFIXES + PICKLE_SUFFIXES}")


def check_weight_folder(folder: Path) -> None:
    """A folder must hold safetensors weights (or be a config-only pipeline root)."""
    files = [p for p in folder.rglob("*") if p.is_file()]
    has_safe = any(p.suffix == ".safetensors" for p in files)
    has_pickle = any(p.suffix in PICKLE_SUFFIXES for p in files)
    if has_pickle and not has_safe:
        raise ValueError(f"{folder} holds only pickled weights (.bin/.ckpt/.pt); convert them to safetensors")


_SHA_MEMO: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """sha256 hex of a file; memoised per (path, size, mtime); HF cache blobs use their name."""
    real = path.resolve()
    if real.parent.name == "blobs" and re.fullmatch(r"[0-9a-f]{64}", real.name):
        return real.name
    stat = real.stat()
    key = (str(real), stat.st_size, stat.st_mtime_ns)
    if key not in _SHA_MEMO:
        digest = hashlib.sha256()
        with real.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        _SHA_MEMO[key] = digest.hexdigest()
    return _SHA_MEMO[key]


def configs_sha256(folder: Path) -> str:
    """One sha256 over every ``*.json``/``*.txt`` config file in ``folder`` (sorted relative paths)."""
    digest = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.suffix in (".json", ".txt"):
            digest.update(str(p.relative_to(folder)).encode())
            digest.update(p.read_bytes())
    return digest.hexdigest()
