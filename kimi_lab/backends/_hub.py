"""Which GGUF files a model spec means, and fetching them from the Hugging Face Hub.

Kimi K2 Thinking ships as hundreds of GB split into shards, one folder per quant. Users should be
able to say `unsloth/Kimi-K2-Thinking-GGUF:UD-TQ1_0` and get every shard, sized before anything is
downloaded, so the pre-flight check can refuse what cannot fit. huggingface_hub is imported inside
functions only: `%load_ext kimi_lab` must stay cheap.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from kimi_lab.common.errors import KimiConfigError

__all__ = ["ModelFiles", "download", "resolve"]

_SHARD = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$", re.IGNORECASE)
_REPO_QUANT = re.compile(r"^([\w.-]+/[\w.-]+):([\w.-]+)$")
#: Class names (anywhere in the MRO or the cause chain) of requests', httpx's and the stdlib's network failures.
_CONNECTION_ERRORS = {
    "ConnectionError",
    "ConnectError",
    "ConnectTimeout",
    "Timeout",
    "TimeoutError",
    "TimeoutException",
    "NetworkError",
}
_FORMS = (
    "a local file (/path/to/model.gguf), REPO:QUANT (unsloth/Kimi-K2-Thinking-GGUF:UD-TQ1_0) "
    "or REPO/PATH.gguf (unsloth/Kimi-K2-Thinking-GGUF/UD-TQ1_0/Kimi-K2-Thinking-UD-TQ1_0-00001-of-00006.gguf)"
)


@dataclass(frozen=True)
class ModelFiles:
    """The files one model spec stands for, sized so they can be checked before downloading."""

    repo_id: str | None  # None for a local path
    files: tuple[str, ...]  # repo-relative paths (or absolute local paths), first shard first
    sizes: tuple[int, ...]  # bytes per file (0 when unknown)
    label: str  # e.g. "UD-TQ1_0" or the file name, for messages

    @property
    def total_bytes(self) -> int:
        return sum(self.sizes)


def resolve(spec: str) -> ModelFiles:
    """Turn a user's model spec into the exact files to load; raise KimiConfigError on any mistake."""
    spec = spec.strip()
    if spec.lower().endswith(".gguf"):
        local = Path(spec).expanduser()
        parts = spec.split("/")
        is_repo_path = (
            len(parts) >= 3 and not local.exists() and not spec.startswith(("/", "~", ".")) and "\\" not in spec
        )
        return _resolve_repo_path(parts[0] + "/" + parts[1], "/".join(parts[2:])) if is_repo_path else _local(local)
    match = _REPO_QUANT.match(spec)
    if match:
        return _resolve_quant(match.group(1), match.group(2))
    raise KimiConfigError(f"cannot tell which model {spec!r} means: pass {_FORMS}")


# ---------------------------------------------------------------- local files


def _local(path: Path) -> ModelFiles:
    path = Path(os.path.abspath(path))  # not resolve(): HF cache files are symlinks to blobs without their names
    if not path.is_file():
        raise KimiConfigError(f"no GGUF file at {path}: check the path")
    shard = _SHARD.search(path.name)
    if not shard:
        return ModelFiles(None, (str(path),), (os.path.getsize(path),), path.name)
    wanted = [path.with_name(name) for name in _shard_names(path.name)]
    missing = [p.name for p in wanted if not p.is_file()]
    if missing:
        raise KimiConfigError(
            f"{path.name} is one of {len(wanted)} shards but {len(missing)} are missing from {path.parent}: "
            f"{', '.join(missing)}; download them next to it"
        )
    return ModelFiles(None, tuple(map(str, wanted)), tuple(os.path.getsize(p) for p in wanted), wanted[0].name)


def _shard_names(name: str) -> list[str]:
    """All file names of the split set `name` belongs to, first shard first."""
    shard = _SHARD.search(name)
    assert shard is not None
    stem, count = name[: shard.start()], int(shard.group(2))
    return [f"{stem}-{i:05d}-of-{count:05d}.gguf" for i in range(1, count + 1)]


# ---------------------------------------------------------------- the Hub


def _listing(repo_id: str) -> dict[str, int]:
    """repo path -> size of every GGUF file in the repo (mmproj projectors left out)."""
    from huggingface_hub import HfApi

    with _hub_errors(f"list the files of {repo_id}", repo_id):
        entries = list(HfApi().list_repo_tree(repo_id, recursive=True))
    found = {}
    for entry in entries:
        path, size = getattr(entry, "path", ""), getattr(entry, "size", None)
        name = path.rsplit("/", 1)[-1].lower()
        if size is not None and name.endswith(".gguf") and "mmproj" not in name:
            found[path] = int(size or 0)
    if not found:
        raise KimiConfigError(f"{repo_id} has no GGUF files: pick a GGUF repo, e.g. unsloth/Kimi-K2-Thinking-GGUF")
    return found


def _resolve_quant(repo_id: str, quant: str) -> ModelFiles:
    listing = _listing(repo_id)
    token = re.compile(r"(?:^|(?<=[/.-]))" + re.escape(quant) + r"(?=$|[/.-])", re.IGNORECASE)
    hits = {path: token.search(path) for path in listing}
    groups = _group([path for path, hit in hits.items() if hit])
    if len(groups) > 1:  # "TQ1_0" also matches "UD-TQ1_0": prefer a folder or tag that is exactly the quant
        tags = _tags(listing)
        exact = {key: paths for key, paths in groups.items() if tags[paths[0]].lower() == quant.lower()}
        groups = exact or groups
    if not groups:
        raise KimiConfigError(
            f"no GGUF for quant {quant!r} in {repo_id}: available: {', '.join(sorted(set(_tags(listing).values())))}"
        )
    if len(groups) > 1:
        names = "; ".join(paths[0] for paths in groups.values())
        raise KimiConfigError(f"quant {quant!r} matches several models in {repo_id}: {names}: pass REPO/PATH.gguf")
    (paths,) = groups.values()
    hit = hits[paths[0]]
    assert hit is not None
    return _checked(repo_id, paths, listing, hit.group(0))


def _resolve_repo_path(repo_id: str, filename: str) -> ModelFiles:
    listing = _listing(repo_id)
    if filename not in listing:
        names = sorted(listing)
        more = f" (and {len(names) - 20} more)" if len(names) > 20 else ""
        raise KimiConfigError(f"no {filename} in {repo_id}: its GGUF files are {', '.join(names[:20])}{more}")
    if not _SHARD.search(filename):
        return ModelFiles(repo_id, (filename,), (listing[filename],), filename.rsplit("/", 1)[-1])
    folder = filename.rsplit("/", 1)[0] + "/" if "/" in filename else ""
    paths = [folder + name for name in _shard_names(filename.rsplit("/", 1)[-1])]
    return _checked(repo_id, [p for p in paths if p in listing], listing, paths[0].rsplit("/", 1)[-1])


def _checked(repo_id: str, paths: list[str], listing: dict[str, int], label: str) -> ModelFiles:
    """The group as ModelFiles, after checking a split set has every shard."""
    shard = _SHARD.search(paths[0])
    if shard:
        folder = paths[0].rsplit("/", 1)[0] + "/" if "/" in paths[0] else ""
        wanted = [folder + name for name in _shard_names(paths[0].rsplit("/", 1)[-1])]
        missing = [p.rsplit("/", 1)[-1] for p in wanted if p not in listing]
        if missing:
            raise KimiConfigError(
                f"{label} in {repo_id} is split into {len(wanted)} shards but {', '.join(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} missing: pick another quant"
            )
        paths = wanted
    return ModelFiles(repo_id, tuple(paths), tuple(listing[p] for p in paths), label)


def _group(paths: list[str]) -> dict[str, list[str]]:
    """Candidates: one per single file, one per split set (keyed by the path without its shard suffix)."""
    groups: dict[str, list[str]] = {}
    for path in sorted(paths):
        shard = _SHARD.search(path)
        groups.setdefault(path[: shard.start()] if shard else path, []).append(path)
    return groups


def _tags(listing: dict[str, int]) -> dict[str, str]:
    """path -> quant tag: its folder, else its file name minus the repo's common prefix and shard suffix."""
    stems = {path: _SHARD.sub("", path.rsplit("/", 1)[-1]).removesuffix(".gguf") for path in listing}
    prefix = os.path.commonprefix(list(stems.values()))  # noqa: RUF071 (file names, character-wise on purpose)
    cut = max(prefix.rfind("-"), prefix.rfind(".")) + 1
    return {path: path.rsplit("/", 2)[-2] if "/" in path else stem[cut:] or stem for path, stem in stems.items()}


# ---------------------------------------------------------------- downloading


def download(model: ModelFiles, *, progress: bool = True) -> Path:
    """Fetch every shard into the Hugging Face cache; return the first shard's local path.

    llama.cpp finds the other shards next to the first, so they must land in one snapshot folder.
    """
    if model.repo_id is None:
        return Path(model.files[0])
    import huggingface_hub
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    was_disabled = are_progress_bars_disabled()
    if not progress:
        disable_progress_bars()
    try:
        local = []
        for filename, size in zip(model.files, model.sizes, strict=True):
            with _hub_errors(f"download {filename}", model.repo_id, size):
                local.append(Path(huggingface_hub.hf_hub_download(model.repo_id, filename)))
    finally:
        if not progress and not was_disabled:
            enable_progress_bars()
    if any(path.parent != local[0].parent for path in local):
        raise KimiConfigError(
            f"the shards of {model.label} landed in different cache folders (the repo changed while downloading): "
            "run again to fetch a consistent set"
        )
    return local[0]


def _endpoint() -> str:
    from huggingface_hub import constants

    return re.sub(r"^https?://", "", constants.ENDPOINT).rstrip("/")


@contextlib.contextmanager
def _hub_errors(what: str, repo_id: str, size: int = 0) -> Iterator[None]:
    """Turn huggingface_hub's exceptions into one-line KimiConfigErrors that say what to do."""
    from huggingface_hub import errors

    try:
        yield
    except KimiConfigError:
        raise
    except Exception as exc:
        message = _explain(exc, errors, what, repo_id, size)
        if message is None:
            raise
        raise KimiConfigError(message) from exc


def _explain(exc: Exception, errors: Any, what: str, repo_id: str, size: int) -> str | None:
    def kind(*names: str) -> bool:
        return any(isinstance(exc, cls) for cls in (getattr(errors, n, None) for n in names) if isinstance(cls, type))

    it = "it" if what.startswith("download") else "the GGUF"
    yourself = f"download {it} yourself and pass -m /path/to/file.gguf"
    if kind("GatedRepoError"):
        return (
            f"{repo_id} is gated: accept its terms on https://{_endpoint()}/{repo_id}, "
            "then log in with `hf auth login` (or set HF_TOKEN)"
        )
    if kind("RepositoryNotFoundError"):
        return f"no Hugging Face repo {repo_id!r} (or it is private: log in with `hf auth login`): check the name"
    if kind("LocalEntryNotFoundError", "OfflineModeIsEnabled") or _is_connection_error(exc):
        return f"cannot reach {_endpoint()} to {what}: connect, or {yourself}"
    if kind("EntryNotFoundError", "RemoteEntryNotFoundError", "RevisionNotFoundError"):
        return f"cannot {what}: it is no longer in {repo_id}; check the name, or {yourself}"
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        from huggingface_hub import constants

        need = f" ({size / 1e9:.0f} GB)" if size else ""
        return f"no disk space left to {what}{need}: free space in {constants.HF_HUB_CACHE}, or point HF_HOME elsewhere"
    if kind("HfHubHTTPError"):
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"cannot {what}: {first}"
    return None


def _is_connection_error(exc: BaseException) -> bool:
    """Whether `exc`, or what caused it, is a network failure (each HTTP library names them differently)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        names = {cls.__name__ for cls in type(exc).__mro__}
        if names & _CONNECTION_ERRORS:
            return True
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return False
