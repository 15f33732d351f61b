"""`python -m sentiment_pipeline predict` (CLI) on models the train stage wrote,
with the bad inputs users send. The Python API: tests/inference/test_analyzer.py."""

import json
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from sentiment_pipeline import paths
from sentiment_pipeline.inference.analyzer import SentimentAnalyzer
from tests.helpers import REPO


def _cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "sentiment_pipeline", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "PYTHONPATH": str(REPO)},
    )


@pytest.mark.slow
def test_cli_predicts_texts_files_and_csv_as_json_lines(trained, tmp_path):
    model = str(trained / paths.MODEL_DIR)
    result = _cli("predict", "--model", model, "great superb film", "awful dull mess", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["index"] for r in rows] == [0, 1] and {"label", "confidence", "scores"} <= set(rows[0])

    (tmp_path / "reviews.txt").write_text("great superb film\n\nawful dull mess\n")
    result = _cli("predict", "--model", model, "--file", "reviews.txt", "--output", "out.jsonl", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["line"] for r in rows] == [1, 3] and "skipped line 2: empty" in result.stderr

    pd.DataFrame({"id": [1, 2], "review": ["great film", "awful film"]}).to_csv(tmp_path / "r.csv", index=False)
    result = _cli("predict", "--model", model, "--csv", "r.csv", "--column", "review", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["row"] for line in result.stdout.splitlines()] == [0, 1]


def test_cli_keeps_an_existing_output_unless_forced(trained, tmp_path, monkeypatch, capsys):
    from sentiment_pipeline.serving.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "out.jsonl").write_text("earlier results\n")
    model = ["--model", str(trained / paths.MODEL_DIR)]
    assert main(["predict", *model, "--output", "out.jsonl", "great film"]) == 2
    assert "out.jsonl exists: pass --force" in capsys.readouterr().err
    assert (tmp_path / "out.jsonl").read_text() == "earlier results\n"
    # a failing run (unknown model) leaves the earlier file as it was, and no partial file
    assert main(["predict", "--model", "no/such", "--output", "out.jsonl", "--force", "great film"]) == 2
    assert (tmp_path / "out.jsonl").read_text() == "earlier results\n"
    assert main(["predict", *model, "--output", "out.jsonl", "--force", "great film"]) == 0
    assert json.loads((tmp_path / "out.jsonl").read_text())["index"] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--csv", "r.csv", "--column", "nope"], "has no column 'nope'"),
        (["--file", "missing.txt"], "cannot read missing.txt"),
        (["--model", "no/such/model", "text"], "does not exist"),
        ([], "give the reviews as arguments, or --file, or --csv"),
        (["--file", "blank.txt"], "no non-empty review"),
        (["--batch-size", "0", "text"], "--batch-size must be >= 1"),
        (["--file", "folder"], "cannot read folder: [Errno 21] Is a directory"),
        (["--file", "latin1.txt"], "cannot read latin1.txt: 'utf-8' codec can't decode"),
        (["--csv", "data.parquet"], "cannot read data.parquet"),
        (["--output", "folder", "text"], "--output folder is a folder: name a file"),
        (["--device", "cuda:7", "text"], "device 'cuda:7' is not available here"),
        (["--file", "huge.txt"], "line 2 has 2,000,001 characters, more than the limit of 2,000,000 per review"),
        (["\u200b\u2060 \u00ad"], "no non-empty review"),  # zero-width and soft-hyphen only: empty to a reader
    ],
)
def test_cli_bad_input_exits_2_with_one_line(trained, tmp_path, monkeypatch, capsys, args, message):
    from sentiment_pipeline.serving.cli import main

    pd.DataFrame({"review": ["great film"]}).to_csv(tmp_path / "r.csv", index=False)
    (tmp_path / "blank.txt").write_text("\n  \n")
    (tmp_path / "folder").mkdir()
    (tmp_path / "latin1.txt").write_bytes("une critique très élogieuse\n".encode("latin-1"))
    pd.DataFrame({"text": ["great film"]}).to_parquet(tmp_path / "data.parquet")
    (tmp_path / "huge.txt").write_text("fine film\n" + "x" * 2_000_001 + "\n")
    monkeypatch.chdir(tmp_path)
    model = [] if "--model" in args else ["--model", str(trained / paths.MODEL_DIR)]
    assert main(["predict", *model, *args]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no half-written output


@pytest.mark.slow
def test_cli_reads_reviews_from_standard_input(trained, tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sentiment_pipeline",
            "predict",
            "--model",
            str(trained / paths.MODEL_DIR),
            "--file",
            "-",
        ],
        input="great superb film\n\nawful dull mess\n",
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["line"] for r in rows] == [1, 3]
    analyzer = SentimentAnalyzer.from_pretrained(trained / paths.MODEL_DIR, device="cpu")
    expected = analyzer.predict_batch(["great superb film", "awful dull mess"])
    assert [r["scores"]["pos"] for r in rows] == pytest.approx([p.scores["pos"] for p in expected], abs=1e-6)


def test_the_cli_refuses_an_empty_review_before_loading_the_model(tmp_path):
    # no model at that path: the input check comes first, and without torch it takes well under the model load
    result = subprocess.run(
        [sys.executable, "-m", "sentiment_pipeline", "predict", "<br /><br />", "--model", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "skipped index 0: empty (or only HTML tags)" in result.stderr
    assert result.stderr.strip().splitlines()[-1] == "error: no non-empty review to classify"
    assert "torch" not in result.stderr


def test_cli_reads_a_long_file_in_chunks_into_one_output_and_truncates_a_huge_review(
    trained, tmp_path, monkeypatch, capsys
):
    from sentiment_pipeline.models import network
    from sentiment_pipeline.serving.cli import main

    monkeypatch.setattr(network, "CHUNK_TEXTS", 512)  # the 4,096 of real use, scaled to a quick test
    distinct = ["great superb film", "awful dull mess", "great film " * 100_000]  # the last one is 1.1 MB
    lines = [distinct[i % 2] for i in range(1_500)] + [distinct[2]]
    (tmp_path / "reviews.txt").write_text("\n".join(lines) + "\n")
    monkeypatch.chdir(tmp_path)
    args = ["predict", "--model", str(trained / paths.MODEL_DIR), "--device", "cpu", "--batch-size", "64"]
    assert main([*args, "--file", "reviews.txt", "--output", "out.jsonl"]) == 0
    assert "1501/1501" in capsys.readouterr().err  # the progress bar ran to the end
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["line"] for r in rows] == list(range(1, 1_502))  # whole and in input order
    analyzer = SentimentAnalyzer.from_pretrained(trained / paths.MODEL_DIR, device="cpu")
    alone = [analyzer.predict(t).scores["pos"] for t in distinct]
    for i in (0, 1, 512, 1_023, 1_499):
        assert rows[i]["scores"]["pos"] == pytest.approx(alone[i % 2], abs=1e-5), i
    assert rows[-1]["scores"]["pos"] == pytest.approx(alone[2], abs=1e-5)  # cut to the budget as in training


@pytest.mark.parametrize("command", ["predict", "demo"])
def test_unknown_corrupted_and_unsafe_model_folders_exit_2_before_any_server_starts(trained, tmp_path, capsys, command):
    from sentiment_pipeline.serving.cli import main

    broken = tmp_path / "broken"
    shutil.copytree(trained / paths.MODEL_DIR, broken)
    (broken / "model.safetensors").write_bytes(b"garbage")
    custom = tmp_path / "custom"  # a folder that asks to run its own code
    shutil.copytree(trained / paths.MODEL_DIR, custom)
    (custom / "modeling_evil.py").write_text(f"open({str(tmp_path / 'ran')!r}, 'w').write('ran')\n")
    config = json.loads((custom / "config.json").read_text())
    (custom / "config.json").write_text(json.dumps({**config, "auto_map": {"AutoConfig": "modeling_evil.Evil"}}))
    extra = ["a fine film"] if command == "predict" else ["--port", "1"]  # port 1: nothing may bind it
    for folder, message in (
        (tmp_path / "none", "does not exist or is not a folder"),
        (broken, "corrupted or incomplete model folder"),
        (custom, "asks to run its own code (auto_map in config.json)"),
    ):
        assert main([command, "--model", str(folder), "--device", "cpu", *extra]) == 2
        errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and message in errors[0]
    assert not (tmp_path / "ran").exists()
