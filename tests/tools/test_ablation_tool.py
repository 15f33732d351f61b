"""tools/loss_ablation.py: the queued grid, and reading results from dvc exp show --json."""

import importlib.util

import pytest

from tests.helpers import REPO

_spec = importlib.util.spec_from_file_location("loss_ablation", REPO / "tools" / "loss_ablation.py")
ablation = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ablation)


def test_queue_commands_cover_the_grid():
    commands = ablation.queue_commands(0.5, 1.0, [1, 2, 3], ["data.train_size=100"])
    names = [cmd[cmd.index("-n") + 1] for cmd in commands]
    assert len(set(names)) == 12 and "abl-lw0.5-cp1-s3" in names and "abl-lw0-cp0-s1" in names
    assert all(cmd[:4] == ["dvc", "exp", "run", "--queue"] and "data.train_size=100" in cmd for cmd in commands)


def _exp(name, state, lw, cp, seed, accuracy):
    data = {
        "params": {
            "params.yaml": {"data": {"train": {"seed": seed, "loss": {"length_weight": lw, "confidence_penalty": cp}}}}
        },
        "metrics": {
            "metrics/eval.json": {
                "data": {"accuracy": accuracy, "f1": accuracy, "ece": 0.1, "brier": 0.2, "log_loss": 0.5}
            }
        },
    }
    return {
        "name": name,
        "executor": {"state": state} if state else None,
        "revs": [{"name": name, "rev": "abc", "error": None, "data": data}],
    }


def test_collect_keeps_finished_runs_and_summarises_over_seeds():
    shown = [
        {"rev": "workspace", "experiments": None},
        {
            "rev": "HEAD",
            "experiments": [
                _exp("abl-lw0-cp0-s1", "success", 0, 0, 1, 0.80),
                _exp("abl-lw0-cp0-s2", None, 0, 0, 2, 0.84),  # run in the workspace: no executor
                _exp("abl-lw0-cp0-s3", "running", 0, 0, 3, 0.99),  # shows the baseline's metrics
                _exp("abl-lw0.5-cp0-s1", "queued", 0.5, 0, 1, 0.99),
                _exp("other", "success", 0, 0, 1, 0.5),
            ],
        },
    ]
    rows = ablation.experiment_rows(shown)
    assert sorted(rows["experiment"]) == ["abl-lw0-cp0-s1", "abl-lw0-cp0-s2"]
    table = ablation.summary(rows)
    assert table.loc[0, "runs"] == 2 and abs(table.loc[0, "accuracy_mean"] - 0.82) < 1e-12
    assert abs(table.loc[0, "accuracy_std"] - 0.0282843) < 1e-6  # sample std of 0.80, 0.84
    assert "| 0 | 0 | 2 | 0.8200 ± 0.0283 |" in ablation.to_markdown(table)


def test_collect_pairs_each_setting_with_the_baseline_on_the_same_reviews():
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 400)
    rows, predictions = [], {}
    for lw, cp in [(0, 0), (0.5, 0), (0, 1)]:
        for seed in (1, 2):
            name = f"abl-lw{lw:g}-cp{cp:g}-s{seed}"
            correct = rng.random(400) < (0.95 if lw else 0.80)  # lw 0.5 is clearly better, cp 1 the same
            prob = np.where(correct == labels.astype(bool), 0.7, 0.3)
            predictions[name] = pd.DataFrame({"label": labels, "prob_pos": prob, "prob_pos_scaled": prob})
            rows.append({"experiment": name, "length_weight": lw, "confidence_penalty": cp, "seed": seed})
    table = ablation.paired_table(pd.DataFrame(rows), predictions, n_boot=200).set_index(
        ["length_weight", "confidence_penalty"]
    )
    better, same = table.loc[(0.5, 0)], table.loc[(0, 1)]
    assert better["pairs"] == 2 and better["d_accuracy_low"] > 0 and better["mcnemar_p"] < 1e-6
    assert better["only_setting_right"] > better["only_baseline_right"]
    assert same["d_accuracy_low"] < 0 < same["d_accuracy_high"] and same["mcnemar_p"] > 0.01
    assert "| 0.5 | 0 | 2 | +" in ablation.paired_markdown(table.reset_index())


def test_collect_reads_predictions_from_a_folder(tmp_path):
    import pandas as pd

    pd.DataFrame({"label": [0, 1], "prob_pos": [0.2, 0.9]}).to_csv(tmp_path / "abl-x.csv", index=False)
    loaded = ablation.load_predictions(["abl-x"], {}, tmp_path)
    assert list(loaded["abl-x"]["prob_pos"]) == [0.2, 0.9]


def test_queue_cells_prefix_and_seed_order():
    commands = ablation.queue_commands(0.5, 1.0, [1, 2], [], prefix="fd-", cells=[(0.0, 0.0), (0.5, 1.0)])
    names = [cmd[cmd.index("-n") + 1] for cmd in commands]
    # every cell's first seed runs before any second seed: an interrupted grid still pairs
    assert names == ["fd-lw0-cp0-s1", "fd-lw0.5-cp1-s1", "fd-lw0-cp0-s2", "fd-lw0.5-cp1-s2"]


def test_the_verdict_follows_the_test_and_the_intervals():
    import pandas as pd

    from sentiment_pipeline.evaluation.ablation import verdict

    base = {"length_weight": 0.5, "confidence_penalty": 1.0, "pairs": 2, "d_accuracy": -0.004, "mcnemar_p": 0.3}
    intervals = {"d_ece_low": 0.01, "d_ece_high": 0.03, "d_ece_scaled_low": -0.01, "d_ece_scaled_high": 0.01}
    lines = verdict(pd.DataFrame([base | intervals, base | intervals | {"d_accuracy": 0.01, "mcnemar_p": 0.001}]))
    assert "no detectable amount (-0.40 points, p = 0.30)" in lines[0]
    assert "ECE higher (worse)" in lines[0] and "no detectable change in ECE after temperature scaling" in lines[0]
    assert "raises accuracy (+1.00 points, p = 0.001)" in lines[1]


def _reported(out, name, lw, cp, seed, labels, prob, files=("eval.json", "predictions.csv")):
    import json

    import pandas as pd

    folder = out / name
    folder.mkdir(parents=True)
    if "eval.json" in files:
        metrics = {"accuracy": float(((prob >= 0.5) == labels).mean()), "f1": 0.5, "ece": 0.1}
        (folder / "eval.json").write_text(json.dumps(metrics | {"brier": 0.2, "log_loss": 0.4}))
    if "predictions.csv" in files:
        frame = {"row": range(len(labels)), "label": labels, "prob_pos": prob, "prob_pos_scaled": prob}
        pd.DataFrame(frame).to_csv(folder / "predictions.csv", index=False)
    return {"experiment": name, "length_weight": lw, "confidence_penalty": cp, "seed": seed, "note": "kept"}


def test_collect_keeps_runs_reported_earlier_whose_experiments_are_gone(tmp_path):
    import json

    import numpy as np

    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 300)
    right = labels.astype(float) * 0.8 + 0.1  # always right, confidently
    coin = np.where(rng.random(300) < 0.5, right, 1 - right)  # right half the time
    out = tmp_path / "full"
    entries = [
        _reported(out, "fd-lw0-cp0-s1", 0, 0, 1, labels, coin),
        _reported(out, "fd-lw0.5-cp1-s1", 0.5, 1, 1, labels, right),
        _reported(out, "fd-lw0-cp1-s1", 0, 1, 1, labels, right, files=("eval.json",)),  # no predictions
        _reported(out, "abl-lw0-cp0-s1", 0, 0, 1, labels, right),  # another prefix
    ]
    (out / "summary.json").write_text(json.dumps({"runs": entries}))
    kept = ablation.experiment_reports.reported_runs(out, "fd-")
    assert [e["experiment"] for e in kept] == ["fd-lw0-cp0-s1", "fd-lw0.5-cp1-s1"]
    assert ablation.experiment_reports.reported_runs(out, "fd-", {"fd-lw0-cp0-s1"}) == [entries[1]]
    rows = ablation.reported_rows(kept, out).set_index("experiment")
    assert rows.loc["fd-lw0.5-cp1-s1", "accuracy"] == 1.0 and rows.loc["fd-lw0-cp0-s1", "log_loss"] == 0.4

    shown = tmp_path / "shown.json"
    shown.write_text("[]")  # their experiment refs are gone
    argv = ["collect", "--exp-show-json", str(shown), "--prefix", "fd-", "--n-boot", "200"]
    args = ablation.parser().parse_args([*argv, "--markdown", str(tmp_path / "t.md")])
    with pytest.raises(SystemExit, match="no finished experiments named fd-"):
        ablation.collect(args)  # no --out: nothing reported to read, so nothing to collect
    args.out = out
    ablation.collect(args)
    table = (tmp_path / "t.md").read_text()
    expected = 1 - float(((coin >= 0.5) == labels).mean())  # every review the baseline gets wrong
    assert f"| 0.5 | 1 | 1 | {expected:+.4f} [" in table
    runs = json.loads((out / "summary.json").read_text())["runs"]
    assert [r["experiment"] for r in runs] == ["fd-lw0-cp0-s1", "fd-lw0.5-cp1-s1"] and runs[0]["note"] == "kept"
