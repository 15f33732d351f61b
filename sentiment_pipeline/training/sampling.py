"""Length-grouped training order that a resumed run can reproduce exactly."""

from __future__ import annotations

import torch
from transformers.trainer_pt_utils import LengthGroupedSampler, get_length_grouped_indices


class EpochSeededLengthGroupedSampler(LengthGroupedSampler):
    """Hugging Face's LengthGroupedSampler (shuffle, then sort by length within
    mega-batches of 50 batches, longest batch first), two changes:

    - The batches after the first are shuffled. The stock sampler leaves them
      sorted by length inside each mega-batch, so training would sweep from long
      to short reviews 50 batches at a time; the length-weighted loss should not
      see such a cycle. The first (longest) batch stays first, so running out of
      memory happens at once, and a last, partial batch stays last.
    - The shuffles come from a generator seeded by (seed, epoch).

    Written because the stock sampler draws from the global torch RNG, whose
    state at the start of an epoch a run resumed mid-epoch cannot restore: the
    resumed epoch would see a different order. Seeded per epoch (as accelerate's
    SeedableRandomSampler does for the random order), the order is a function of
    seed and epoch alone: the Trainer calls `set_epoch` each epoch and skips the
    batches a checkpoint already trained on, and under DistributedDataParallel
    every rank computes the same order before accelerate shards its batches.
    """

    def __init__(self, batch_size: int, lengths: list[int], seed: int) -> None:
        super().__init__(batch_size, lengths=lengths, generator=torch.Generator())
        self.seed = seed
        self.set_epoch(0)

    def __iter__(self):
        self.generator.manual_seed(self.seed + self.epoch)  # every pass of an epoch: the same order
        indices = get_length_grouped_indices(self.lengths, self.batch_size, generator=self.generator)
        batches = [indices[i : i + self.batch_size] for i in range(0, len(indices), self.batch_size)]
        n_full = len(batches) if len(batches[-1]) == self.batch_size else len(batches) - 1
        middle = [1 + int(i) for i in torch.randperm(max(n_full - 1, 0), generator=self.generator)]
        order = [0, *middle, *range(max(n_full, 1), len(batches))]
        return iter([i for b in order for i in batches[b]])

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
