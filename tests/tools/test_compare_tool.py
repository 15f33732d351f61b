"""tools/compare_models.py: one queued experiment per model, and the comparison table."""

import importlib.util

from tests.helpers import REPO

_spec = importlib.util.spec_from_file_location("compare_models", REPO / "tools" / "compare_models.py")
compare = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(compare)


def test_queue_commands_one_experiment_per_model():
    commands = compare.queue_commands(
        ["/models/all-MiniLM-L6-v2", "distilbert-base-uncased"],
        ["data.train_size=2000"],
        ["train.lr=0.002"],
        ["train.epochs=2"],
    )
    names = [cmd[cmd.index("-n") + 1] for cmd in commands]
    assert names == ["cmp-tfidf_logreg", "cmp-bilstm", "cmp-minilm", "cmp-distilbert-base-uncased"]
    settings = [[cmd[i + 1] for i, arg in enumerate(cmd) if arg == "-S"] for cmd in commands]
    assert all(s[-1] == "data.train_size=2000" for s in settings)  # the shared settings, last
    assert "train.lr=0.002" in settings[1] and "train.lr=0.002" not in settings[2]
    assert settings[3][:3] == ["model.type=transformer", "model.name=distilbert-base-uncased", "train.epochs=2"]
    assert "train.epochs=2" not in settings[0] + settings[1]


def _exp(name, state, model_type, accuracy):
    params = {
        "data": {"train_size": 2000, "test_size": None},
        "model": {"type": model_type, "name": "m"},
        "train": {"epochs": 2},
    }
    data = {
        "params": {"params.yaml": {"data": params}},
        "metrics": {
            "metrics/eval.json": {"data": {"accuracy": accuracy, "f1": 0.8, "ece": 0.05}},
            "metrics/train.json": {"data": {"n_parameters": 4000001, "model_size_mb": 16.1}},
        },
    }
    return {"name": name, "executor": {"state": state}, "revs": [{"name": name, "error": None, "data": data}]}


def test_collect_tabulates_finished_experiments():
    shown = [
        {
            "rev": "HEAD",
            "experiments": [
                _exp("cmp-tfidf_logreg", "success", "tfidf_logreg", 0.86),
                _exp("cmp-minilm", "running", "transformer", 0.99),  # still the baseline's metrics
                _exp("cmp-bilstm", "success", "bilstm", 0.75),
                _exp("abl-x", "success", "transformer", 0.5),
            ],
        }
    ]
    times = {"cmp-bilstm": {"train_seconds": 12.5, "test_examples_per_s": 1234.5}}  # as MLflow would give them
    rows = compare.experiment_rows(shown, timing=lambda name: times.get(name, {}))
    assert list(rows["experiment"]) == ["cmp-tfidf_logreg", "cmp-bilstm"]
    assert list(rows["epochs"]) == ["-", 2] and rows.loc[0, "train / test"] == "2000 / all"
    table = compare.to_markdown(rows)
    assert (
        "| cmp-bilstm | bilstm | 2000 / all | 2 | 0.7500 | 0.8000 | 0.0500 | 12.5 | 1,234.5 | 4,000,001 | 16.1 |"
        in table
    )
    assert "| cmp-tfidf_logreg | tfidf_logreg | 2000 / all | - | 0.8600 | 0.8000 | 0.0500 | - | - |" in table
