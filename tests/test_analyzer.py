"""SentimentAnalyzer (Python API) and `python -m sentiment_pipeline predict` (CLI)
on models the train stage wrote, with the bad inputs users send."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from datasets import load_from_disk

from sentiment_pipeline import paths
from sentiment_pipeline.errors import PipelineInputError
from sentiment_pipeline.evaluation.calibration import probabilities
from sentiment_pipeline.inference.analyzer import SentimentAnalyzer
from sentiment_pipeline.inference.predictor import predict_folder
from sentiment_pipeline.models.artifact import ModelArtifact
from tests.helpers import REPO, train_workspace


@pytest.fixture(scope="module")
def trained(trained_workspace):
    return trained_workspace


def _test_texts(root):
    return pd.read_parquet(root / "data/clean/test.parquet")["text"].tolist()


def test_predict_batch_matches_the_evaluate_stage(trained):
    analyzer = SentimentAnalyzer.from_pretrained(trained / paths.MODEL_DIR, device="cpu", precision="fp32")
    texts = _test_texts(trained)
    got = np.array([p.scores["pos"] for p in analyzer.predict_batch(texts, batch_size=7)])
    margins, _ = predict_folder(trained / paths.MODEL_DIR, load_from_disk(str(trained / paths.TOKENIZED_DIR))["test"])
    expected = probabilities(margins, analyzer.artifact.temperature)
    np.testing.assert_allclose(got, expected, atol=1e-5)  # same cleaning, truncation, order, temperature


def test_bf16_prediction_runs_in_bf16_and_agrees_with_fp32(trained):
    import torch

    texts = _test_texts(trained)
    fp32 = SentimentAnalyzer.from_pretrained(trained / paths.MODEL_DIR, device="cpu", precision="fp32")
    bf16 = SentimentAnalyzer.from_pretrained(trained / paths.MODEL_DIR, device="cpu", precision="bf16")
    assert (fp32.precision, bf16.precision) == ("fp32", "bf16")
    dtypes = set()
    head = [m for m in bf16.model.modules() if isinstance(m, torch.nn.Linear)][-1]
    head.register_forward_hook(lambda module, args, output: dtypes.add(output.dtype))
    low, full = bf16.predict_proba(texts), fp32.predict_proba(texts)
    assert dtypes == {torch.bfloat16}
    assert np.ptp(full) > 0.2  # the model tells these reviews apart, so agreement means something
    assert not np.array_equal(low, full)
    assert np.mean((low >= 0.5) == (full >= 0.5)) >= 0.95 and np.mean(np.abs(low - full)) < 0.02


def test_auto_precision_follows_the_cpus_bf16_units(trained, monkeypatch):
    from sentiment_pipeline import precision

    for has_units, expected in ((True, "bf16"), (False, "fp32")):
        monkeypatch.setattr(precision, "cpu_has_fast_bf16", lambda v=has_units: v)
        assert SentimentAnalyzer.from_pretrained(trained / paths.MODEL_DIR, device="cpu").precision == expected
    int8 = SentimentAnalyzer.from_pretrained(trained / paths.MODEL_DIR, device="cpu", quantize="int8")
    assert int8.precision == "fp32"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"precision": "fp16"}, "precision=fp16 needs a CUDA or MPS device"),
        ({"precision": "half"}, "precision must be one of auto, fp32, bf16, fp16"),
        ({"precision": "bf16", "quantize": "int8"}, "quantize='int8' runs in fp32"),
    ],
)
def test_impossible_precisions_are_refused_before_loading(trained, kwargs, message):
    with pytest.raises(PipelineInputError, match=message):
        SentimentAnalyzer.from_pretrained(trained / paths.MODEL_DIR, device="cpu", **kwargs)


def test_the_model_folders_temperature_is_applied_and_changes_no_label(trained, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(trained / paths.MODEL_DIR, folder)
    artifact = ModelArtifact.read(folder)
    assert artifact.temperature != 1.0  # train fitted one on the validation split
    texts = _test_texts(trained)
    scaled = SentimentAnalyzer.from_pretrained(folder, device="cpu")
    margins = scaled.margins(texts)
    np.testing.assert_allclose(scaled.predict_proba(texts), probabilities(margins, artifact.temperature))
    ModelArtifact(**{**artifact.__dict__, "temperature": 4.0}).write(folder)
    hotter = SentimentAnalyzer.from_pretrained(folder, device="cpu").predict_batch(texts)
    before = scaled.predict_batch(texts)
    assert [p.label for p in hotter] == [p.label for p in before]
    assert all(abs(h.scores["pos"] - 0.5) <= abs(b.scores["pos"] - 0.5) + 1e-12 for h, b in zip(hotter, before))


def test_predict_returns_label_confidence_and_both_scores(trained):
    analyzer = SentimentAnalyzer.from_pretrained(str(trained / paths.MODEL_DIR), device="cpu")
    one = analyzer.predict("<b>great</b> wonderful film, superb cast")
    assert one.label in ("neg", "pos") and set(one.scores) == {"neg", "pos"}
    assert one.confidence == one.scores[one.label] >= 0.5
    assert abs(sum(one.scores.values()) - 1) < 1e-6
    # cleaning as in the pipeline: the HTML tag does not change the prediction
    assert analyzer.predict("great wonderful film, superb cast").scores == pytest.approx(one.scores)


def test_batch_order_is_kept_whatever_the_lengths(trained):
    analyzer = SentimentAnalyzer.from_pretrained(trained / paths.MODEL_DIR, device="cpu")
    texts = ["awful " * n for n in (1, 50, 3, 200, 7)] + ["great " * n for n in (100, 2)]
    batched = analyzer.predict_batch(texts, batch_size=3)
    alone = [analyzer.predict(t) for t in texts]
    assert [b.scores["pos"] for b in batched] == pytest.approx([a.scores["pos"] for a in alone], abs=1e-5)


@pytest.mark.parametrize(
    "texts, message",
    [
        (["fine", ""], "text 1 is empty"),
        (["fine", "   \n\t"], "text 1 is empty or whitespace only"),
        (["fine", "<br /><br />"], r"text 1 is empty after cleaning \(only HTML tags or invisible characters\)"),
        (["fine", 42], "text 1 is a int, not a string"),
        (["fine", None], "text 1 is a NoneType"),
        ("just one string", "expected a list of texts, got str"),
    ],
)
def test_bad_texts_are_refused_naming_the_item(trained, texts, message):
    analyzer = SentimentAnalyzer.from_pretrained(trained / paths.MODEL_DIR, device="cpu")
    with pytest.raises(PipelineInputError, match=message):
        analyzer.predict_batch(texts)


def test_a_one_megabyte_review_is_truncated_like_in_training(trained):
    analyzer = SentimentAnalyzer.from_pretrained(trained / paths.MODEL_DIR, device="cpu")
    huge = "great film " * 100_000  # 1.1 MB
    assert len(huge) > 1_000_000
    assert len(analyzer.encoder([huge])[0]) == 64  # tokenize.max_length of the fixture model
    assert analyzer.token_count(huge) > 100_000 and analyzer.token_budget == 62  # less [CLS], [SEP]
    assert analyzer.predict(huge).label in ("neg", "pos")


def test_a_batch_of_100000_texts_is_chunked_and_kept_in_order(trained, monkeypatch):
    from sentiment_pipeline.inference import analyzer as analyzer_module

    analyzer = SentimentAnalyzer.from_pretrained(trained / paths.MODEL_DIR, device="cpu")
    distinct = ["great superb film", "awful dull mess", "a film", "great " * 30 + "but awful"]
    texts = [distinct[i % 4] for i in range(100_000)]
    encoded_sizes = []
    encode = analyzer.encoder
    monkeypatch.setattr(analyzer, "encoder", lambda chunk: encoded_sizes.append(len(chunk)) or encode(chunk))
    predictions = analyzer.predict_batch(texts, batch_size=256)
    assert len(predictions) == 100_000
    assert max(encoded_sizes) == analyzer_module.CHUNK_TEXTS and sum(encoded_sizes) == 100_000
    alone = [analyzer.predict(t).scores["pos"] for t in distinct]
    got = [p.scores["pos"] for p in predictions]
    for i in (0, 1, 2, 3, 4097, 50_001, 99_998, 99_999):
        assert got[i] == pytest.approx(alone[i % 4], abs=1e-5), i


def test_unknown_and_corrupted_models_are_named(trained, tmp_path):
    with pytest.raises(PipelineInputError, match="does not exist"):
        SentimentAnalyzer.from_pretrained(tmp_path / "nope")
    broken = tmp_path / "broken"
    shutil.copytree(trained / paths.MODEL_DIR, broken)
    (broken / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(PipelineInputError, match="corrupted or incomplete model folder"):
        SentimentAnalyzer.from_pretrained(broken)


def test_tfidf_model_through_the_same_api(tmp_path, tokenized_workspace, monkeypatch):
    root = train_workspace(tmp_path / "ws", tokenized_workspace, monkeypatch, type="tfidf_logreg")
    analyzer = SentimentAnalyzer.from_pretrained(root / paths.MODEL_DIR)
    predictions = analyzer.predict_batch(["a great wonderful superb film", "awful boring terrible mess"])
    assert [p.label for p in predictions] == ["pos", "neg"]


def _cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "sentiment_pipeline", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "PYTHONPATH": str(REPO)},
    )


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


@pytest.mark.parametrize(
    "texts, message",
    [
        ({"great film": 1}, "expected a list of texts, got dict"),
        ({"great film"}, "expected a list of texts, got set"),
        (["x" * 2_000_001], "text 0 has 2,000,001 characters, more than the limit"),
        (["fine", "\u200b\ufeff"], "text 1 is empty after cleaning"),
    ],
)
def test_the_api_refuses_mappings_huge_and_invisible_texts(trained, texts, message):
    analyzer = SentimentAnalyzer.from_pretrained(trained / paths.MODEL_DIR, device="cpu")
    with pytest.raises(PipelineInputError, match=message):
        analyzer.predict_batch(texts)


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
    from sentiment_pipeline.inference import analyzer as analyzer_module
    from sentiment_pipeline.serving.cli import main

    monkeypatch.setattr(analyzer_module, "CHUNK_TEXTS", 512)  # the 4,096 of real use, scaled to a quick test
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
