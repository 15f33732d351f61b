"""tools/wheelhouse.py offline: two tiny wheels made here, a ready lock instead of pip freeze,
pip download from a local folder (--no-index), parts of a few KiB (docs/airgap.md)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.helpers import REPO

sys.path.insert(0, str(REPO / "tools"))
import wheelhouse

LOCK = "wh-alpha==1.0\nwh_beta==2.0\ntorch==2.13.0\nnvidia-cudnn-cu12==9.1\n"


def make_wheel(folder: Path, name: str, version: str) -> Path:
    mod = name.replace("-", "_")
    info = f"{mod}-{version}.dist-info"
    files = {
        f"{mod}/__init__.py": f"VERSION = {version!r}\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    files[f"{info}/RECORD"] = "".join(f"{n},,\n" for n in [*files, f"{info}/RECORD"])
    path = folder / f"{mod}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        for n, text in files.items():
            z.writestr(n, text)
    return path


def pack(tmp: Path, lock: str = LOCK, *extra: str) -> tuple[int, Path]:
    src, out = tmp / "src", tmp / "kit"
    src.mkdir(exist_ok=True)
    make_wheel(src, "wh-alpha", "1.0")
    make_wheel(src, "wh_beta", "2.0")
    (tmp / "freeze.txt").write_text(lock)
    args = ["pack", "--out", str(out), "--lock", str(tmp / "freeze.txt"), "--part-mib", "0.003", *extra]
    return wheelhouse.main([*args, "--", "--no-index", "--find-links", str(src)]), out


def parts(out: Path) -> list[Path]:
    return sorted(out.glob("kit.tar.*"))


def test_pack_writes_the_lock_parts_and_sums_that_sha256sum_accepts(tmp_path, capsys):
    rc, out = pack(tmp_path)
    assert rc == 0, capsys.readouterr().err
    assert (out / "requirements.lock").read_text() == "wh-alpha==1.0\nwh_beta==2.0\n"  # torch, nvidia-* skipped
    assert len(parts(out)) >= 3 and all(p.stat().st_size <= 0.003 * 2**20 for p in parts(out))
    whole = b"".join(p.read_bytes() for p in parts(out))
    expected = [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}" for p in parts(out)]
    expected.append(f"{hashlib.sha256(whole).hexdigest()}  kit.tar")
    assert (out / "SHA256SUMS").read_text().splitlines() == expected
    assert (out / "wheelhouse.py").read_text() == (REPO / "tools" / "wheelhouse.py").read_text()
    (tmp_path / "kit" / "kit.tar").write_bytes(whole)
    assert subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=out).returncode == 0
    printed = capsys.readouterr().out
    assert "2 wheels" in printed and f"python3 {out}/wheelhouse.py install" in printed


def test_a_skip_pattern_drops_a_package_from_the_lock(tmp_path, capsys):
    rc, out = pack(tmp_path, "wh-alpha==1.0\nwh_beta==2.0\n", "--skip", "WH-B*")
    assert rc == 0, capsys.readouterr().err
    assert (out / "requirements.lock").read_text() == "wh-alpha==1.0\n"


def test_a_line_with_no_wheel_for_the_target_fails_in_one_line(tmp_path, capsys):
    rc, _ = pack(tmp_path, "wh-alpha==1.0\nwh-gone==1.0\n")
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1, err
    assert "no wheel of wh-gone==1.0 for cp312" in err[0] and "--skip wh-gone" in err[0] and "build it" in err[0]


def there(tool: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(tool), *args], capture_output=True, text=True)


@pytest.mark.slow
def test_each_copy_stashed_then_install_puts_the_packages_in_a_venv(tmp_path, capsys):
    _, out = pack(tmp_path)
    home = tmp_path / "home"
    for k, part in enumerate(parts(out), 1):  # one copy at a time: a part, SHA256SUMS and the tool
        copy = tmp_path / f"copy{k}"
        copy.mkdir()
        for f in (part, out / "SHA256SUMS", out / "wheelhouse.py"):
            shutil.copy(f, copy)
        if k < len(parts(out)):
            done = there(copy / "wheelhouse.py", "stash", "--home", str(home))
            assert done.returncode == 0 and "still missing: " in done.stdout, done.stderr
    venv = tmp_path / "venv"
    done = there(copy / "wheelhouse.py", "install", "--home", str(home), "--venv", str(venv))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "python tools/run_preset.py full_scale" in done.stdout and "loss_ablation.py collect" in done.stdout
    code = "import wh_alpha, wh_beta; print(wh_alpha.VERSION, wh_beta.VERSION)"
    imported = subprocess.run([venv / "bin" / "python", "-c", code], capture_output=True, text=True)
    assert imported.stdout.split() == ["1.0", "2.0"], imported.stderr


@pytest.mark.parametrize("harm", ["missing", "damaged"])
def test_a_missing_or_damaged_part_stops_install_before_anything_is_unpacked(tmp_path, capsys, harm):
    _, out = pack(tmp_path)
    home, venv, empty = tmp_path / "home", tmp_path / "venv", tmp_path / "empty"
    empty.mkdir()
    assert wheelhouse.main(["stash", "--from", str(out), "--home", str(home)]) == 0
    part = home / parts(out)[1].name
    if harm == "missing":
        part.unlink()
    else:
        part.write_bytes(b"x" + part.read_bytes()[1:])
    capsys.readouterr()
    rc = wheelhouse.main(["install", "--from", str(empty), "--home", str(home), "--venv", str(venv)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1 and f"{part.name} ({harm})" in err[0], err
    assert not (home / "wheelhouse").exists() and not (home / "kit.tar").exists() and not venv.exists()


def test_stash_refuses_a_damaged_part_and_says_what_is_missing(tmp_path, capsys):
    _, out = pack(tmp_path)
    first = parts(out)[0]
    first.write_bytes(first.read_bytes()[:-1])
    assert wheelhouse.main(["stash", "--from", str(out), "--home", str(tmp_path / "home")]) == 1
    assert f"{first.name} in {out} is damaged" in capsys.readouterr().err
    first.unlink()
    assert wheelhouse.main(["stash", "--from", str(out), "--home", str(tmp_path / "home")]) == 0
    assert f"still missing: {first.name}" in capsys.readouterr().out
