"""Length-grouped training order, length-sorted prediction order."""

import numpy as np
import pytest
import torch
from datasets import Dataset

from sentiment_pipeline.data.batching import restore_order, sort_by_length
from sentiment_pipeline.training.sampling import EpochSeededLengthGroupedSampler


@pytest.fixture
def lengths():
    rng = np.random.default_rng(0)
    return rng.integers(10, 2500, size=1000).tolist()


def test_sampler_yields_each_index_once_per_epoch(lengths):
    order = list(EpochSeededLengthGroupedSampler(16, lengths, seed=1))
    assert sorted(order) == list(range(len(lengths)))


def test_sampler_batches_have_similar_lengths(lengths):
    order = list(EpochSeededLengthGroupedSampler(16, lengths, seed=1))
    batches = [np.array(lengths)[order[i : i + 16]] for i in range(0, len(order), 16)]
    grouped_padding = sum(b.max() * len(b) - b.sum() for b in batches)
    shuffled = np.random.default_rng(1).permutation(lengths)
    random_padding = sum(b.max() * len(b) - b.sum() for b in np.array_split(shuffled, len(batches)))
    assert grouped_padding < 0.2 * random_padding
    assert lengths[order[0]] == max(lengths)  # the longest batch comes first


def test_sampler_order_depends_on_seed_and_epoch_only(lengths):
    sampler = EpochSeededLengthGroupedSampler(16, lengths, seed=1)
    epoch0 = list(sampler)
    torch.manual_seed(123)  # the global RNG plays no part
    assert list(sampler) == epoch0
    sampler.set_epoch(1)
    epoch1 = list(sampler)
    assert epoch1 != epoch0
    fresh = EpochSeededLengthGroupedSampler(16, lengths, seed=1)
    fresh.set_epoch(1)
    assert list(fresh) == epoch1  # what a run resumed in epoch 1 sees


def test_sampler_shuffles_batch_order(lengths):
    order = list(EpochSeededLengthGroupedSampler(16, lengths, seed=1))
    batch_max = [max(lengths[i] for i in order[k : k + 16]) for k in range(16, len(order) - 16, 16)]
    # the stock sampler sorts each mega-batch longest first, so most neighbours would descend
    descending = sum(a >= b for a, b in zip(batch_max, batch_max[1:]))
    assert descending < 0.75 * (len(batch_max) - 1)


def test_sort_and_restore_order():
    ds = Dataset.from_dict({"input_ids": [[1] * n for n in (3, 9, 1, 5)], "length": [3, 9, 1, 5]})
    ordered, order = sort_by_length(ds)
    assert ordered["length"] == [9, 5, 3, 1]
    outputs = np.array(ordered["length"]) * 10
    assert restore_order(outputs, order).tolist() == [30, 90, 10, 50]
