"""The promotion gate: a new registered version takes `@champion` only on evidence.

Both versions predict the same test reviews (the workspace's cleaned test split,
or any parquet file with `text` and `label`), through the same analyzer the
demo and the CLI use. Their paired comparison is the project's own
(evaluation/paired.py): McNemar's exact test on the reviews one gets right and
the other wrong, and a paired bootstrap interval of the accuracy difference.
The new version is promoted when that interval's lower end is above `-margin`
(non-inferiority: not worse by more than `margin`, at 95%); the decision and
its numbers become tags of the new version (`gate.*`), whichever way it goes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from sentiment_pipeline.errors import PipelineInputError
from sentiment_pipeline.evaluation.paired import compare_predictions
from sentiment_pipeline.paths import CLEAN_DIR, LABEL, TEXT

ALIAS = "champion"
DEFAULT_MARGIN = 0.005  # half a point of accuracy


@dataclass(frozen=True)
class Decision:
    promoted: bool
    reason: str
    version: str
    champion: str | None  # the version that held the alias before
    n: int = 0
    accuracy_new: float | None = None
    accuracy_champion: float | None = None
    d_accuracy: float | None = None
    d_accuracy_low: float | None = None
    d_accuracy_high: float | None = None
    mcnemar_p: float | None = None
    margin: float = DEFAULT_MARGIN

    def tags(self) -> dict[str, str]:
        return {f"gate.{k}": str(v) for k, v in asdict(self).items() if v is not None}


def _champion(client: MlflowClient, name: str) -> str | None:
    try:
        return client.get_model_version_by_alias(name, ALIAS).version
    except MlflowException:
        return None


def _scores(uri: str, reviews: pd.DataFrame) -> pd.DataFrame:
    from sentiment_pipeline.inference.analyzer import SentimentAnalyzer

    analyzer = SentimentAnalyzer.from_pretrained(uri, device="cpu", precision="fp32")
    return pd.DataFrame({"label": reviews[LABEL].to_numpy(), "prob_pos": analyzer.predict_proba(list(reviews[TEXT]))})


def load_reviews(path: Path = CLEAN_DIR / "test.parquet") -> pd.DataFrame:
    if not Path(path).is_file():
        raise PipelineInputError(f"{path} not found: the gate scores the test reviews there (dvc repro clean)")
    reviews = pd.read_parquet(path, columns=[TEXT, LABEL])
    if reviews.empty:
        raise PipelineInputError(f"{path} holds no reviews to compare the versions on")
    return reviews


def gate(
    name: str,
    version: str,
    reviews: pd.DataFrame,
    margin: float = DEFAULT_MARGIN,
    client: MlflowClient | None = None,
    n_boot: int = 2000,
) -> Decision:
    """Compare `name` version `version` with `@champion` on `reviews`; move the alias
    if it is not worse beyond `margin`; tag the version with the decision either way."""
    client = client or MlflowClient()
    try:
        client.get_model_version(name, str(version))
    except MlflowException as err:
        raise PipelineInputError(f"model {name!r} has no version {version}: {err.message.splitlines()[0]}") from err
    holder = _champion(client, name)
    if holder is None:
        decision = Decision(True, "no champion yet: the first version takes the alias", str(version), None)
    elif holder == str(version):
        decision = Decision(True, f"version {version} is the champion already", str(version), holder)
    else:
        new = _scores(f"models:/{name}/{version}", reviews)
        old = _scores(f"models:/{name}/{holder}", reviews)
        stats = compare_predictions(old, new, n_boot=n_boot)  # b - a: the new version minus the champion
        promoted = stats["d_accuracy_low"] > -margin
        verdict = "not worse beyond" if promoted else "may be worse by more than"
        reason = (
            f"accuracy {stats['accuracy_b']:.4f} vs {stats['accuracy_a']:.4f} (champion v{holder}), difference "
            f"{stats['d_accuracy']:+.4f} [{stats['d_accuracy_low']:+.4f}, {stats['d_accuracy_high']:+.4f}]: "
            f"{verdict} the margin {margin}"
        )
        decision = Decision(
            promoted, reason, str(version), holder, stats["n"], stats["accuracy_b"], stats["accuracy_a"],
            stats["d_accuracy"], stats["d_accuracy_low"], stats["d_accuracy_high"], stats["mcnemar_p"], margin,
        )  # fmt: skip
    for key, value in decision.tags().items():
        client.set_model_version_tag(name, str(version), key, value)
    if decision.promoted:
        client.set_registered_model_alias(name, ALIAS, str(version))
    return decision
