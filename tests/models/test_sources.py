"""Model sources (hub id / folder / single file), the safetensors policy, offline mode,
provenance hashes, the load-once cache and device/dtype checks. No weights are downloaded."""

from __future__ import annotations

import hashlib
import threading
import time

import pytest

from tests.needs import needs

needs("torch")

import torch
from safetensors.torch import save_file

from pipeline.errors import BackendUnavailableError
from pipeline.models.cache import cache_key, cached_keys, clear_cache, get_or_load
from pipeline.models.devices import generator_device, resolve_device, resolve_dtype
from pipeline.config.sources import ModelSource, parse_source_string
from pipeline.models.sources import configs_sha256, hub_commit, hub_offline, resolve_source
from tests.fixtures.tiny_models import fake_hub_cache

COMMIT = "a" * 40


@pytest.fixture()
def folder(tmp_path):
    d = tmp_path / "model"
    d.mkdir()
    (d / "config.json").write_text('{"a": 1}')
    save_file({"w": torch.zeros(2)}, str(d / "diffusion_pytorch_model.safetensors"))
    return d


@pytest.mark.parametrize("text,expected", [
    ("owner/name", {"repo": "owner/name", "revision": None}),
    ("owner/name@" + COMMIT, {"repo": "owner/name", "revision": COMMIT}),
    ("./models/unet", {"path": "./models/unet"}),
    ("/abs/model", {"path": "/abs/model"}),
    ("weights/model.safetensors", {"path": "weights/model.safetensors"}),
    ("just-a-folder", {"path": "just-a-folder"}),
])
def test_shorthand(text, expected):
    assert parse_source_string(text) == expected
    assert ModelSource.model_validate(text).model_dump(exclude_defaults=True) == {
        k: v for k, v in expected.items() if v is not None}


def test_source_needs_exactly_one_location():
    with pytest.raises(ValueError, match="exactly one"):
        ModelSource.model_validate({"repo": "a/b", "path": "/x"})
    with pytest.raises(ValueError, match="exactly one"):
        ModelSource.model_validate({})
    with pytest.raises(ValueError, match="owner/name"):
        ModelSource.model_validate({"repo": "not a repo"})
    with pytest.raises(ValueError, match="hub repos only"):
        ModelSource.model_validate({"path": "/x", "revision": "main"})
    with pytest.raises(ValueError, match="Extra inputs"):
        ModelSource.model_validate({"path": "/x", "revison": "main"})


def test_folder_provenance_is_a_config_hash(folder):
    r = resolve_source(ModelSource(path=str(folder)))
    assert r.kind == "folder" and r.location == str(folder)
    assert r.provenance["configs_sha256"] == configs_sha256(folder)
    assert r.pretrained_kwargs() == {"use_safetensors": True, "local_files_only": True}
    (folder / "config.json").write_text('{"a": 2}')
    assert configs_sha256(folder) != r.provenance["configs_sha256"]


def test_single_file_sha256_and_pickle_policy(tmp_path):
    st = tmp_path / "m.safetensors"
    save_file({"w": torch.ones(3)}, str(st))
    r = resolve_source(ModelSource(path=str(st)))
    assert r.kind == "file" and r.provenance["sha256"] == hashlib.sha256(st.read_bytes()).hexdigest()
    ckpt = tmp_path / "m.ckpt"
    torch.save({"w": torch.ones(3)}, ckpt)
    with pytest.raises(ValueError, match="refusing pickled weights"):
        resolve_source(ModelSource(path=str(ckpt)))
    assert resolve_source(ModelSource(path=str(ckpt), allow_pickle=True)).kind == "file"
    odd = tmp_path / "m.onnx"
    odd.write_bytes(b"x")
    with pytest.raises(ValueError, match="unknown weight file type"):
        resolve_source(ModelSource(path=str(odd)))


def test_folder_with_only_pickles_is_refused(tmp_path):
    d = tmp_path / "old"
    d.mkdir()
    torch.save({"w": torch.ones(1)}, d / "pytorch_model.bin")
    with pytest.raises(ValueError, match="only pickled weights"):
        resolve_source(ModelSource(path=str(d)))


def test_missing_local_path(tmp_path):
    with pytest.raises(BackendUnavailableError, match="not found"):
        resolve_source(ModelSource(path=str(tmp_path / "absent")))
    with pytest.raises(BackendUnavailableError, match="subfolder not found"):
        resolve_source(ModelSource(path=str(tmp_path), subfolder="unet"))


def test_hub_offline_uses_the_cache_and_records_the_commit(folder, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert hub_offline()
    cache = tmp_path / "hub"
    fake_hub_cache(cache, "org/model", folder, commit=COMMIT)
    r = resolve_source(ModelSource(repo="org/model", revision="main"), cache_dir=str(cache))
    assert r.kind == "hub" and r.local_files_only
    assert r.provenance == {"source": "hub", "repo": "org/model", "revision": "main", "commit": COMMIT,
                            "pinned": False, "subfolder": None, "filename": None, "variant": None}
    kw = r.pretrained_kwargs()
    assert kw["revision"] == "main" and kw["use_safetensors"] and kw["cache_dir"] == str(cache)
    pinned = resolve_source(ModelSource(repo="org/model", revision=COMMIT), cache_dir=str(cache))
    assert pinned.provenance["pinned"] is True and pinned.provenance["commit"] == COMMIT
    with pytest.raises(BackendUnavailableError, match="huggingface-cli download org/other"):
        resolve_source(ModelSource(repo="org/other"), cache_dir=str(cache))
    assert hub_commit("org/model", "b" * 40, str(cache)) is None


def test_hub_single_file_offline(folder, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cache = tmp_path / "hub"
    fake_hub_cache(cache, "org/ckpts", folder, commit=COMMIT)
    src = ModelSource(repo="org/ckpts", filename="diffusion_pytorch_model.safetensors")
    r = resolve_source(src, cache_dir=str(cache))
    assert r.kind == "file" and r.provenance["commit"] == COMMIT
    assert r.provenance["sha256"] == hashlib.sha256((folder / "diffusion_pytorch_model.safetensors").read_bytes()).hexdigest()
    with pytest.raises(BackendUnavailableError):
        resolve_source(ModelSource(repo="org/ckpts", filename="absent.safetensors"), cache_dir=str(cache))


def test_offline_flag_when_env_unset(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    assert not hub_offline() and hub_offline(local_files_only=True)


@pytest.fixture()
def isolated_cache(monkeypatch):
    """An empty process cache for this test; other tests' loaded models are left alone."""
    from pipeline.models import cache

    monkeypatch.setattr(cache, "_ENTRIES", {})
    monkeypatch.setattr(cache, "_LOAD_LOCKS", {})


def test_cache_loads_once_across_threads(isolated_cache):
    calls = []

    def loader():
        calls.append(1)
        time.sleep(0.05)
        return object(), {"id": "x"}

    key = cache_key({"kind": "test", "n": 1})
    got = []
    threads = [threading.Thread(target=lambda: got.append(get_or_load(key, loader))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len({id(e) for e in got}) == 1 and got[0].provenance == {"id": "x"}
    other = get_or_load(cache_key({"kind": "test", "n": 2}), loader)
    assert other.lock is not got[0].lock and len(cached_keys()) == 2
    clear_cache()
    assert cached_keys() == []


def test_cache_retries_after_a_failed_load(isolated_cache):
    def bad():
        raise BackendUnavailableError("no weights")

    key = cache_key({"kind": "test", "bad": True})
    with pytest.raises(BackendUnavailableError):
        get_or_load(key, bad)
    assert get_or_load(key, lambda: (1, {})).value == 1


def test_devices_and_dtypes():
    cpu = resolve_device("cpu")
    assert resolve_dtype("float32", cpu) == torch.float32 and generator_device(cpu) == "cpu"
    with pytest.raises(ValueError, match="needs a GPU"):
        resolve_dtype("float16", cpu)
    with pytest.raises(ValueError, match="dtype must be one of"):
        resolve_dtype("float64", cpu)
    with pytest.raises(ValueError, match="device must be"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(BackendUnavailableError, match="CUDA is not available"):
            resolve_device("cuda")
