import pytest
from datasets import Dataset

from sentiment_pipeline.data.encoding import SpecialTokens, load_tokenizer, tokenize_dataset, truncate_ids
from sentiment_pipeline.data.sources import SourceError

IDS = list(range(10))


@pytest.mark.parametrize(
    "strategy, budget, kept",
    [
        ("head", 4, [0, 1, 2, 3]),
        ("tail", 4, [6, 7, 8, 9]),
        ("head_tail", 4, [0, 7, 8, 9]),  # 0.25 of 4 from the head
        ("head_tail", 10, IDS),
        ("tail", 20, IDS),
    ],
)
def test_truncate_ids(strategy, budget, kept):
    assert truncate_ids(IDS, budget, strategy) == kept


def test_head_fraction():
    assert truncate_ids(IDS, 4, "head_tail", head_fraction=0.5) == [0, 1, 8, 9]
    assert truncate_ids(IDS, 4, "head_tail", head_fraction=0.0) == [6, 7, 8, 9]
    with pytest.raises(ValueError, match="unknown truncation"):
        truncate_ids(IDS, 4, "middle")


def test_special_tokens_of_a_bert_tokenizer(tiny_model_dir):
    tokenizer = load_tokenizer(str(tiny_model_dir))
    specials = SpecialTokens.of(tokenizer)
    assert specials.prefix == [tokenizer.cls_token_id] and specials.suffix == [tokenizer.sep_token_id]


@pytest.mark.parametrize("strategy", ["head", "tail", "head_tail"])
def test_tokenize_dataset_keeps_lengths_and_truncates(tiny_model_dir, strategy):
    tokenizer = load_tokenizer(str(tiny_model_dir))
    long_text = " ".join(["great"] + ["film"] * 100 + ["awful"])
    ds = Dataset.from_dict({"text": ["great film", long_text], "label": [1, 0]})
    out = tokenize_dataset(ds, tokenizer, max_length=16, truncation=strategy)
    assert "text" not in out.column_names and out["label"] == [1, 0]
    short, long = out[0], out[1]
    assert short["n_words"] == 2 and short["truncated"] is False
    assert short["input_ids"] == tokenizer("great film")["input_ids"]  # same as the tokenizer's own encoding
    assert long["n_words"] == 102 and long["n_tokens"] >= 102 and long["truncated"] is True
    assert len(long["input_ids"]) == long["length"] == 16 == len(long["attention_mask"])
    assert long["input_ids"][0] == tokenizer.cls_token_id and long["input_ids"][-1] == tokenizer.sep_token_id
    first, last = tokenizer("great awful", add_special_tokens=False)["input_ids"]
    assert (long["input_ids"][1] == first) == (strategy != "tail")
    assert (long["input_ids"][-2] == last) == (strategy != "head")


def test_unknown_model_folder_is_a_clear_error(tmp_path):
    with pytest.raises(SourceError, match="model.name"):
        load_tokenizer(str(tmp_path / "no-model"))


def test_max_length_beyond_the_models_positions_is_refused_before_tokenizing(tiny_model_dir):
    from sentiment_pipeline.config import ParamsError
    from sentiment_pipeline.data.encoding import check_max_length

    tokenizer = load_tokenizer(str(tiny_model_dir))
    check_max_length(str(tiny_model_dir), tokenizer, 512)  # the tiny BERT has 512 positions
    with pytest.raises(ParamsError, match=r"tokenize.max_length=600 is more than .* \(512 tokens\): lower it"):
        check_max_length(str(tiny_model_dir), tokenizer, 600)
