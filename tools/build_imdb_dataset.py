"""Build the IMDB dataset folder the project ships (datasets/imdb/), in the Hub layout.

    python tools/build_imdb_dataset.py --source ../shared/datasets/imdb   # a local mirror
    python tools/build_imdb_dataset.py --source stanfordnlp/imdb          # the Hugging Face Hub

Writes the 25,000 train and 25,000 test reviews (not the unlabelled split) as
`plain_text/{train,test}-00000-of-00001.parquet` (zstd level 19, rows in the
source's order, columns `text`, `label`) and the dataset card `README.md`
(configs, features, license, citation), so `datasets.load_dataset("datasets/imdb")`
reads it as it reads `stanfordnlp/imdb`. Rerunning it on the same source gives
byte-identical files (same pyarrow version).
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

SPLITS = ("train", "test")
ROWS_PER_SPLIT = 25_000
SCHEMA = pa.schema([("text", pa.string()), ("label", pa.int64())])

CARD = """---
license: other
license_name: imdb-large-movie-review-dataset
license_details: >-
  Distributed by its authors (Maas et al., 2011) for research use, with the
  request to cite the ACL 2011 paper below. The review texts come from
  IMDb (imdb.com) and remain subject to IMDb's terms of use.
task_categories:
- text-classification
task_ids:
- sentiment-classification
language:
- en
size_categories:
- 10K<n<100K
pretty_name: Large Movie Review Dataset (IMDB), labelled splits
configs:
- config_name: plain_text
  default: true
  data_files:
  - split: train
    path: plain_text/train-*
  - split: test
    path: plain_text/test-*
dataset_info:
  config_name: plain_text
  features:
  - name: text
    dtype: string
  - name: label
    dtype:
      class_label:
        names:
          '0': neg
          '1': pos
  splits:
  - name: train
    num_bytes: {train_bytes}
    num_examples: 25000
  - name: test
    num_bytes: {test_bytes}
    num_examples: 25000
---
# IMDB (Large Movie Review Dataset v1.0), labelled splits

The 50,000 labelled movie reviews of Maas et al. (2011): 25,000 for training
and 25,000 for testing, each half positive and half negative, in the layout
and schema of the Hugging Face dataset `stanfordnlp/imdb` (its unlabelled
split is left out). Label 0 = negative (a rating of 4 or less out of 10),
1 = positive (7 or more). Train and test cover disjoint sets of movies, with
at most 30 reviews per movie.

This folder is the default `data.source` of the pipeline, so `dvc repro`
needs no network. It was built by `tools/build_imdb_dataset.py` from a mirror
of `stanfordnlp/imdb`; rerun that script to rebuild it.

| file | rows | sha256 |
| --- | --- | --- |
{files}

## License

The dataset's authors distribute it for research use and ask that their
paper be cited (below). The reviews were written by IMDb users and taken
from imdb.com; their use remains subject to IMDb's terms.
Source: https://ai.stanford.edu/~amaas/data/sentiment/

## Citation

```bibtex
@InProceedings{maas-EtAl:2011:ACL-HLT2011,
  author    = {Maas, Andrew L. and Daly, Raymond E. and Pham, Peter T. and Huang, Dan and Ng, Andrew Y. and Potts, Christopher},
  title     = {Learning Word Vectors for Sentiment Analysis},
  booktitle = {Proceedings of the 49th Annual Meeting of the Association for Computational Linguistics: Human Language Technologies},
  month     = {June},
  year      = {2011},
  address   = {Portland, Oregon, USA},
  publisher = {Association for Computational Linguistics},
  pages     = {142--150},
  url       = {http://www.aclweb.org/anthology/P11-1015}
}
```
"""


def read_split(source: str, split: str) -> pa.Table:
    """One labelled split of a local folder in the Hub layout, or of a Hub dataset id."""
    folder = Path(source).expanduser()
    if folder.is_dir():
        files = sorted(folder.glob(f"plain_text/{split}-*.parquet"))
        if not files:
            raise SystemExit(f"error: {folder} has no plain_text/{split}-*.parquet: is it the IMDB dataset folder?")
        table = pa.concat_tables(pq.read_table(f, columns=["text", "label"]) for f in files)
    else:
        import datasets  # only the Hub path needs it

        table = datasets.load_dataset(source, split=split).select_columns(["text", "label"]).data.table
    table = table.select(["text", "label"]).cast(SCHEMA).replace_schema_metadata(None)
    labels = set(table.column("label").unique().to_pylist())
    if table.num_rows != ROWS_PER_SPLIT or labels != {0, 1}:
        raise SystemExit(
            f"error: {source} {split}: expected {ROWS_PER_SPLIT} rows labelled 0/1, "
            f"found {table.num_rows} rows with labels {sorted(labels)}"
        )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", required=True, help="local IMDB folder in the Hub layout, or stanfordnlp/imdb")
    parser.add_argument("--out", default="datasets/imdb", help="folder to write (default: datasets/imdb)")
    args = parser.parse_args()
    out = Path(args.out)
    tables = {split: read_split(args.source, split) for split in SPLITS}  # all checked before writing
    (out / "plain_text").mkdir(parents=True, exist_ok=True)
    rows = []
    for split, table in tables.items():
        path = out / "plain_text" / f"{split}-00000-of-00001.parquet"
        pq.write_table(table, path, compression="zstd", compression_level=19)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        rows.append(f"| `{path.relative_to(out)}` | {table.num_rows:,} | `{digest}` |")
        print(f"{split}: {table.num_rows:,} reviews -> {path} ({path.stat().st_size / 1e6:.1f} MB)")
    card = CARD.replace("{files}", "\n".join(rows))
    for split, table in tables.items():  # datasets reads split info only with num_bytes beside num_examples
        card = card.replace(f"{{{split}_bytes}}", str(table.nbytes))
    (out / "README.md").write_text(card)


if __name__ == "__main__":
    main()
