"""Builders for the offline test fixtures: a tiny IMDB-layout dataset of
synthetic reviews and a tiny randomly initialised BERT with a tokenizer
trained on that text. Nothing here touches the network or ../shared."""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd

POSITIVE = ["great", "wonderful", "brilliant", "moving", "superb", "delightful", "loved", "masterpiece"]
NEGATIVE = ["awful", "boring", "terrible", "dull", "waste", "horrible", "hated", "mess"]
NEUTRAL = [
    "the",
    "film",
    "movie",
    "plot",
    "actor",
    "scene",
    "story",
    "director",
    "was",
    "and",
    "a",
    "it",
    "this",
    "of",
    "ending",
    "music",
    "camera",
    "script",
    "cast",
    "really",
]

DATASET_CARD = """---
configs:
- config_name: plain_text
  default: true
  data_files:
  - split: train
    path: plain_text/train-*
  - split: test
    path: plain_text/test-*
  - split: unsupervised
    path: plain_text/unsupervised-*
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
---
# Synthetic IMDB-layout fixture
"""


def synthetic_review(rng: random.Random, label: int, n_words: int) -> str:
    cue = POSITIVE if label == 1 else NEGATIVE
    words = [rng.choice(cue) if rng.random() < 0.3 else rng.choice(NEUTRAL) for _ in range(n_words)]
    words[0] = rng.choice(cue)
    text = " ".join(words)
    if rng.random() < 0.3:  # IMDB's HTML line breaks and entities
        cut = len(text) // 2
        text = text[:cut] + " <br /><br />" + text[cut:] + " &amp; more"
    return text


def synthetic_split(rng: random.Random, n: int, prefix: str = "") -> pd.DataFrame:
    rows = []
    for i in range(n):
        label = i % 2
        n_words = rng.choice([5, 12, 30, 60, 120, 300])
        rows.append({"text": f"{prefix}{synthetic_review(rng, label, n_words)}", "label": label})
    return pd.DataFrame(rows)


def make_imdb_like(root: Path, n_train: int = 120, n_test: int = 60, seed: int = 0) -> Path:
    """A dataset folder in the Hub layout of stanfordnlp/imdb, with a duplicate,
    an empty review, a train/test overlap and HTML breaks; unlabelled rows (-1)
    in train and test too, and an empty test review, so that train and test keep
    fewer rows than the source (each kept row names its source row)."""
    rng = random.Random(seed)
    train = synthetic_split(rng, n_train)
    test = synthetic_split(rng, n_test)
    extra = pd.DataFrame(
        [
            {"text": train.loc[0, "text"], "label": int(train.loc[0, "label"])},  # duplicate
            {"text": "   <br />  ", "label": 1},  # empty after cleaning
            {"text": test.loc[1, "text"], "label": int(test.loc[1, "label"])},  # overlaps test
        ]
    )
    train = pd.concat([train, extra], ignore_index=True)
    unlabelled = {"text": "an unlabelled review, great or awful", "label": -1}
    train = pd.concat([train.iloc[:7], pd.DataFrame([unlabelled]), train.iloc[7:]], ignore_index=True)
    test = pd.concat(
        [test.iloc[:5], pd.DataFrame([unlabelled]), test.iloc[5:10], pd.DataFrame([{"text": "<br />", "label": 0}])]
        + [test.iloc[10:]],
        ignore_index=True,
    )
    unsup = synthetic_split(rng, 10).assign(label=-1)
    (root / "plain_text").mkdir(parents=True, exist_ok=True)
    (root / "README.md").write_text(DATASET_CARD)
    for name, df in (("train", train), ("test", test), ("unsupervised", unsup)):
        df.to_parquet(root / "plain_text" / f"{name}-00000-of-00001.parquet", index=False)
    return root


def make_tiny_bert(root: Path, corpus: list[str]) -> Path:
    """A 2-layer BERT encoder (random weights, no classification head, like a
    sentence-transformers checkpoint) and a WordPiece tokenizer trained on `corpus`."""
    return make_tiny_transformer("bert", root, corpus)


def _wordpiece(corpus: list[str]):
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.train_from_iterator(corpus, trainers.WordPieceTrainer(vocab_size=200, special_tokens=specials))
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))],
    )
    return tok, dict(unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")


def _byte_level_bpe(corpus: list[str]):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(
        corpus,
        trainers.BpeTrainer(
            vocab_size=400, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
        ),
    )
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", tok.token_to_id("<s>")), ("</s>", tok.token_to_id("</s>"))],
    )
    return tok, dict(
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        cls_token="<s>",
        sep_token="</s>",
        mask_token="<mask>",
    )


def make_tiny_transformer(arch: str, root: Path, corpus: list[str]) -> Path:
    """A randomly initialised 2-layer encoder of architecture `arch` (bert,
    distilbert, albert, roberta; no classification head) and a tokenizer of the
    kind that architecture uses, trained on `corpus`."""
    import torch
    import transformers as tf

    small = dict(num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
    if arch == "roberta":
        tok, specials = _byte_level_bpe(corpus)
        input_names = ["input_ids", "attention_mask"]
        config = tf.RobertaConfig(
            vocab_size=tok.get_vocab_size(),
            hidden_size=32,
            max_position_embeddings=514,
            pad_token_id=tok.token_to_id("<pad>"),
            bos_token_id=0,
            eos_token_id=2,
            type_vocab_size=1,
            **small,
        )
        model = tf.RobertaModel
    else:
        tok, specials = _wordpiece(corpus)
        vocab = tok.get_vocab_size()
        if arch == "bert":
            input_names = ["input_ids", "token_type_ids", "attention_mask"]
            config, model = tf.BertConfig(vocab_size=vocab, hidden_size=32, **small), tf.BertModel
        elif arch == "albert":
            input_names = ["input_ids", "token_type_ids", "attention_mask"]
            config = tf.AlbertConfig(vocab_size=vocab, embedding_size=16, hidden_size=32, **small)
            model = tf.AlbertModel
        elif arch == "distilbert":
            input_names = ["input_ids", "attention_mask"]
            config = tf.DistilBertConfig(vocab_size=vocab, dim=32, n_layers=2, n_heads=2, hidden_dim=64)
            model = tf.DistilBertModel
        else:
            raise ValueError(arch)
    fast = tf.PreTrainedTokenizerFast(
        tokenizer_object=tok, model_max_length=512, model_input_names=input_names, **specials
    )
    root.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(root)
    torch.manual_seed(0)
    model(config).save_pretrained(root)
    return root


def training_run(root: Path):
    """The MLflow run (in root/mlflow.db) that trained root/models/best, found
    as the stages find it: by the content hash of the model folder."""
    from mlflow.tracking import MlflowClient

    from sentiment_pipeline import paths, tracking
    from sentiment_pipeline.hashing import hash_tree

    client = MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("imdb-sentiment")
    found = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.{tracking.MODEL_TAG} = '{hash_tree(root / paths.MODEL_DIR)}'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    assert found, f"no MLflow run tagged with the hash of {root / paths.MODEL_DIR}"
    return found[0]
