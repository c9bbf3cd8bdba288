"""Epoch seeds from numpy's SeedSequence: neighbouring seeds and epochs draw unrelated orders."""

import torch

from lit_dnn.data.batches import ShardedBatchSampler
from lit_dnn.seeds import epoch_seed


def order(seed: int, epoch: int, rank: int = 0, world: int = 1) -> list[int]:
    sampler = ShardedBatchSampler(1000, 1000, shuffle=True, seed=seed, rank=rank, world_size=world)
    sampler.set_epoch(epoch)
    return torch.cat(list(sampler)).tolist()


def test_seed_one_epoch_one_is_not_seed_two_epoch_zero() -> None:
    # with seed + epoch, the two were the same permutation: runs of neighbouring seeds shared epochs
    assert order(1, 1) != order(2, 0)
    assert order(1, 1) == order(1, 1)  # and each (seed, epoch) is reproducible
    seeds = {epoch_seed(s, e) for s in range(20) for e in range(20)}
    seeds |= {epoch_seed(s, e, r) for s in range(5) for e in range(5) for r in range(4)}
    assert len(seeds) == 400 + 100 and all(0 <= s < 2**32 for s in seeds)


def test_ranks_share_one_permutation_and_split_it() -> None:
    shards = [order(7, 3, rank, 4) for rank in range(4)]
    assert sorted(sum(shards, [])) == sorted(order(7, 3))  # every sample once across the four processes
    assert sum(shards, []) == order(7, 3)[: 4 * 250]
