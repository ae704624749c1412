"""Model specs -> GGUF files, downloading, and the memory pre-flight, against a faked Hub (no network)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import huggingface_hub
import pytest
from huggingface_hub import errors as hub_errors
from huggingface_hub.hf_api import RepoFile, RepoFolder

from kimi_lab.backends import _preflight
from kimi_lab.backends._hub import ModelFiles, download, resolve
from kimi_lab.backends._preflight import check_fits
from kimi_lab.common.errors import KimiConfigError

REPO = "unsloth/Kimi-K2-Thinking-GGUF"
GB = 10**9


def _http_error(cls: type[Exception], status: int, message: str) -> Exception:
    """A huggingface_hub HTTP error as the real client raises it (they need a response)."""
    try:
        import httpx2 as httpx  # huggingface_hub >= 2
    except ImportError:
        import httpx  # type: ignore[no-redef]
    request = httpx.Request("GET", "https://huggingface.co/api/models/x")
    return cls(message, response=httpx.Response(status, request=request))  # type: ignore[call-arg]


def _split(tag: str, sizes: list[int], skip: int | None = None) -> dict[str, int]:
    n = len(sizes)
    return {
        f"{tag}/Kimi-K2-Thinking-{tag}-{i:05d}-of-{n:05d}.gguf": size for i, size in enumerate(sizes, 1) if i != skip
    }


TQ1 = _split("UD-TQ1_0", [49 * GB, 49 * GB, 49 * GB, 49 * GB, 45 * GB, 4 * GB])  # 245 GB
FILES: dict[str, dict[str, int]] = {
    REPO: {
        "README.md": 9_000,
        ".gitattributes": 2_000,
        "mmproj-F16.gguf": 800_000_000,
        "Kimi-K2-Thinking-TQ1_0.gguf": 3 * GB,  # a single-file quant whose tag is a suffix of UD-TQ1_0
        **TQ1,
        **_split("UD-Q2_K_XL", [48 * GB] * 7 + [45 * GB]),  # 381 GB
        **_split("Q4_K_M", [49 * GB] * 13),
        **_split("Q4_K", [49 * GB] * 12),  # a tag that is a prefix of Q4_K_M
        **_split("Q8_0", [49 * GB] * 4, skip=3),  # an incomplete split set
    },
    "someone/two-models": {"a/Model-Q2_K.gguf": GB, "b/Model-Q2_K.gguf": GB},
    "someone/flat": {f"tiny-model-{tag}.gguf": GB for tag in ("Q4_K_M", "Q8_0", "F16")},
    "someone/empty": {"README.md": 100},
}


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[tuple[str, str]]:
    """Fake the Hub's listing and download; returns the (repo, file) downloads in order."""
    fetched: list[tuple[str, str]] = []

    def list_repo_tree(self: Any, repo_id: str, *, recursive: bool = False, **kw: Any):
        assert recursive
        if repo_id not in FILES:
            raise _http_error(
                hub_errors.RepositoryNotFoundError, 404, f"404 Client Error.\n\nRepository Not Found {repo_id}"
            )
        folders = {p.rsplit("/", 1)[0] for p in FILES[repo_id] if "/" in p}
        yield from (RepoFolder(path=f, oid="0" * 40) for f in sorted(folders))
        for path, size in FILES[repo_id].items():
            yield RepoFile(path=path, size=size, oid="0" * 40)

    def hf_hub_download(repo_id: str, filename: str, **kw: Any) -> str:
        assert filename in FILES[repo_id]
        fetched.append((repo_id, filename))
        local = tmp_path / "hub" / repo_id.replace("/", "--") / "snapshots" / "abc123" / filename
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(b"GGUF")
        return str(local)

    monkeypatch.setattr(huggingface_hub.HfApi, "list_repo_tree", list_repo_tree)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", hf_hub_download)
    return fetched


def _error(spec: str) -> str:
    with pytest.raises(KimiConfigError) as info:
        resolve(spec)
    assert "\n" not in info.value.message
    return info.value.message


# ---------------------------------------------------------------- REPO:QUANT


def test_quant_resolves_to_every_shard_in_order(hub: list) -> None:
    model = resolve(f"{REPO}:UD-TQ1_0")
    assert model.repo_id == REPO
    assert model.files == tuple(TQ1)
    assert [f.rsplit("-", 3)[-3] for f in model.files] == ["00001", "00002", "00003", "00004", "00005", "00006"]
    assert model.sizes == tuple(TQ1.values())
    assert model.total_bytes == 245 * GB
    assert model.label == "UD-TQ1_0"


def test_quant_tag_is_case_insensitive(hub: list) -> None:
    assert resolve(f"{REPO}:ud-tq1_0").files == tuple(TQ1)
    assert len(resolve(f"{REPO}:ud-q2_k_xl").files) == 8


def test_prefix_tags_do_not_cross_match(hub: list) -> None:
    q4k = resolve(f"{REPO}:Q4_K")
    assert len(q4k.files) == 12 and all("/Kimi-K2-Thinking-Q4_K-" in f for f in q4k.files)
    assert len(resolve(f"{REPO}:Q4_K_M").files) == 13


def test_exact_tag_wins_over_a_longer_one(hub: list) -> None:
    """TQ1_0 also matches inside UD-TQ1_0: the file whose own tag is TQ1_0 is meant."""
    model = resolve(f"{REPO}:TQ1_0")
    assert model.files == ("Kimi-K2-Thinking-TQ1_0.gguf",) and model.total_bytes == 3 * GB


def test_incomplete_split_set_errors(hub: list) -> None:
    message = _error(f"{REPO}:Q8_0")
    assert "4 shards" in message and "Kimi-K2-Thinking-Q8_0-00003-of-00004.gguf" in message


def test_unknown_quant_lists_the_available_ones(hub: list) -> None:
    message = _error(f"{REPO}:Q5_K_S")
    assert message.startswith(f"no GGUF for quant 'Q5_K_S' in {REPO}: available: ")
    available = message.split("available: ")[1].split(", ")
    assert available == sorted(["Q4_K", "Q4_K_M", "Q8_0", "TQ1_0", "UD-Q2_K_XL", "UD-TQ1_0"])


def test_available_tags_from_flat_file_names(hub: list) -> None:
    assert _error("someone/flat:Q2_K").endswith("available: F16, Q4_K_M, Q8_0")
    assert resolve("someone/flat:q8_0").files == ("tiny-model-Q8_0.gguf",)


def test_several_candidates_error(hub: list) -> None:
    message = _error("someone/two-models:Q2_K")
    assert "a/Model-Q2_K.gguf" in message and "b/Model-Q2_K.gguf" in message


def test_repo_without_gguf_and_unknown_repo(hub: list) -> None:
    assert "has no GGUF files" in _error("someone/empty:Q4_K_M")
    assert "no Hugging Face repo 'someone/nothing'" in _error("someone/nothing:Q4_K_M")


# ---------------------------------------------------------------- REPO/PATH.gguf


def test_repo_path_single_file(hub: list) -> None:
    model = resolve(f"{REPO}/Kimi-K2-Thinking-TQ1_0.gguf")
    assert model == ModelFiles(REPO, ("Kimi-K2-Thinking-TQ1_0.gguf",), (3 * GB,), "Kimi-K2-Thinking-TQ1_0.gguf")


def test_repo_path_first_shard_brings_its_siblings(hub: list) -> None:
    first = next(iter(TQ1))
    model = resolve(f"{REPO}/{first}")
    assert model.files == tuple(TQ1) and model.total_bytes == 245 * GB
    assert resolve(f"{REPO}/{list(TQ1)[3]}").files == tuple(TQ1)  # a later shard means the same set


def test_repo_path_missing_file_lists_the_repo(hub: list) -> None:
    message = _error(f"{REPO}/UD-TQ1_0/nope.gguf")
    assert message.startswith(f"no UD-TQ1_0/nope.gguf in {REPO}: its GGUF files are ")
    assert "(and " in message and "more)" in message  # 45 GGUF files, first 20 shown
    assert "mmproj" not in message


# ---------------------------------------------------------------- local paths


def test_local_single_file(tmp_path: Path) -> None:
    path = tmp_path / "model.gguf"
    path.write_bytes(b"x" * 1234)
    assert resolve(str(path)) == ModelFiles(None, (str(path),), (1234,), "model.gguf")


def test_local_path_expands_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "m.gguf").write_bytes(b"xy")
    assert resolve("~/m.gguf").files == (str(tmp_path / "m.gguf"),)


def test_local_split_set(tmp_path: Path) -> None:
    paths = [tmp_path / f"big-{i:05d}-of-00003.gguf" for i in (1, 2, 3)]
    for n, path in enumerate(paths, 1):
        path.write_bytes(b"x" * n)
    model = resolve(str(paths[0]))
    assert model.files == tuple(map(str, paths)) and model.sizes == (1, 2, 3) and model.repo_id is None
    assert model.label == "big-00001-of-00003.gguf"
    paths[1].unlink()
    message = _error(str(paths[0]))
    assert "big-00002-of-00003.gguf" in message and "big-00003" not in message


def test_local_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.gguf"
    assert str(missing) in _error(str(missing))
    assert "nope.gguf" in _error("nope.gguf")


@pytest.mark.parametrize("spec", ["kimi-k2-thinking", "unsloth/Kimi-K2-Thinking-GGUF", "a:b:c", ""])
def test_bad_spec_explains_the_forms(spec: str) -> None:
    message = _error(spec)
    assert "REPO:QUANT" in message and "REPO/PATH.gguf" in message and "local file" in message


# ---------------------------------------------------------------- download


def test_download_fetches_every_shard_and_returns_the_first(hub: list, tmp_path: Path) -> None:
    path = download(resolve(f"{REPO}:UD-TQ1_0"), progress=False)
    assert hub == [(REPO, f) for f in TQ1]
    assert path.name == "Kimi-K2-Thinking-UD-TQ1_0-00001-of-00006.gguf" and path.is_file()
    assert sorted(p.name for p in path.parent.iterdir()) == [f.rsplit("/", 1)[1] for f in TQ1]
    assert not huggingface_hub.utils.are_progress_bars_disabled()  # restored


def test_download_local_model_is_a_no_op(tmp_path: Path) -> None:
    path = tmp_path / "model.gguf"
    path.write_bytes(b"x")
    assert download(resolve(str(path))) == path


def _failing(monkeypatch: pytest.MonkeyPatch, exc: Exception) -> None:
    def hf_hub_download(repo_id: str, filename: str, **kw: Any) -> str:
        raise exc

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", hf_hub_download)


def _download_error(model: ModelFiles) -> str:
    with pytest.raises(KimiConfigError) as info:
        download(model)
    assert "\n" not in info.value.message
    return info.value.message


SHARD = ModelFiles(REPO, ("UD-TQ1_0/x-00001-of-00002.gguf", "UD-TQ1_0/x-00002-of-00002.gguf"), (1, 1), "UD-TQ1_0")


@pytest.mark.parametrize(
    "exc",
    [
        hub_errors.LocalEntryNotFoundError("Cannot find the requested files in the disk cache\nand outgoing traffic"),
        ConnectionError("[Errno 101] Network is unreachable"),
        OSError("wrapped"),
    ],
)
def test_download_offline_says_what_to_do(monkeypatch: pytest.MonkeyPatch, exc: Exception) -> None:
    if type(exc) is OSError:  # a connection error wrapped by another library
        exc.__cause__ = ConnectionRefusedError("refused")
    _failing(monkeypatch, exc)
    message = _download_error(SHARD)
    assert message == (
        "cannot reach huggingface.co to download UD-TQ1_0/x-00001-of-00002.gguf: connect, "
        "or download it yourself and pass -m /path/to/file.gguf"
    )


def test_listing_offline_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    def list_repo_tree(self: Any, repo_id: str, **kw: Any):
        raise ConnectionError("Max retries exceeded with url: /api/models/...\n(Caused by NewConnectionError)")

    monkeypatch.setattr(huggingface_hub.HfApi, "list_repo_tree", list_repo_tree)
    message = _error(f"{REPO}:UD-TQ1_0")
    assert message == (
        f"cannot reach huggingface.co to list the files of {REPO}: connect, "
        "or download the GGUF yourself and pass -m /path/to/file.gguf"
    )


@pytest.mark.parametrize(
    "exc",
    [
        _http_error(hub_errors.RemoteEntryNotFoundError, 404, "404 Client Error.\nEntry Not Found for url: ..."),
        hub_errors.EntryNotFoundError("Entry Not Found"),
    ],
)
def test_download_missing_file(monkeypatch: pytest.MonkeyPatch, exc: Exception) -> None:
    _failing(monkeypatch, exc)
    message = _download_error(SHARD)
    assert message.startswith(f"cannot download UD-TQ1_0/x-00001-of-00002.gguf: it is no longer in {REPO}")
    assert "pass -m /path/to/file.gguf" in message


def test_download_gated_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    _failing(monkeypatch, _http_error(hub_errors.GatedRepoError, 403, "403 Client Error.\nCannot access gated repo"))
    message = _download_error(SHARD)
    assert message.startswith(f"{REPO} is gated: accept its terms on https://huggingface.co/{REPO}")
    assert "hf auth login" in message


def test_download_other_http_error_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    _failing(monkeypatch, _http_error(hub_errors.HfHubHTTPError, 500, "500 Server Error.\n\nInternal Error"))
    assert _download_error(SHARD) == "cannot download UD-TQ1_0/x-00001-of-00002.gguf: 500 Server Error."


def test_download_out_of_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    _failing(monkeypatch, OSError(errno.ENOSPC, "No space left on device"))
    assert _download_error(SHARD).startswith("no disk space left to download UD-TQ1_0/x-00001-of-00002.gguf")


def test_unrelated_errors_propagate(monkeypatch: pytest.MonkeyPatch) -> None:
    _failing(monkeypatch, ValueError("a bug"))
    with pytest.raises(ValueError, match="a bug"):
        download(SHARD)


# ---------------------------------------------------------------- preflight


@pytest.fixture
def machine(monkeypatch: pytest.MonkeyPatch) -> Any:
    def set_memory(total: float, available: float) -> None:
        monkeypatch.setattr(_preflight, "memory", lambda: (int(total), int(available)))

    return set_memory


def test_kimi_does_not_fit_a_24_gb_machine(hub: list, machine: Any) -> None:
    machine(24 * GB, 21 * GB)
    model = resolve(f"{REPO}:UD-TQ1_0")
    with pytest.raises(KimiConfigError) as info:
        check_fits(model)
    assert info.value.message == (
        "UD-TQ1_0 is 245 GB; this machine has 24 GB of RAM (21 GB available), so it cannot load it: "
        "pick a smaller GGUF, or pass --force-load to try anyway (llama.cpp will page it from disk, very slowly)"
    )
    warning = check_fits(model, force=True)
    assert warning is not None and "245 GB" in warning
    assert check_fits(model, gpu_bytes=250 * GB) is None  # RAM + VRAM is enough


def test_small_model_fits(machine: Any) -> None:
    machine(24 * GB, 21 * GB)
    assert check_fits(ModelFiles(None, ("/m.gguf",), (int(2.5 * GB),), "m.gguf")) is None


def test_fits_total_but_not_available_warns(machine: Any) -> None:
    machine(24 * GB, 6.5 * GB)
    warning = check_fits(ModelFiles(None, ("/m.gguf",), (8 * GB,), "m.gguf"))
    assert warning is not None and "8.0 GB" in warning and "6.5 GB available" in warning


def test_memory_reads_this_machine() -> None:
    total, available = _preflight.memory()
    assert 0 < available <= total


def test_importing_backends_stays_cheap() -> None:
    code = (
        "import sys, kimi_lab.backends._hub, kimi_lab.backends._preflight, kimi_lab.testing.tiny_gguf\n"
        "heavy = [m for m in ('llama_cpp', 'huggingface_hub', 'gguf', 'numpy') if m in sys.modules]\n"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
