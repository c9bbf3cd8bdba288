"""The seeds of each epoch: ``numpy.random.SeedSequence`` turns (seed, epoch[, rank]) into one 32-bit seed.

A sum such as ``seed + epoch`` gives seed 1's second epoch the order of seed 2's first; SeedSequence
hashes its entropy, so neighbouring seeds, epochs and ranks draw unrelated streams.
"""

import numpy as np


def epoch_seed(seed: int, epoch: int, rank: int | None = None) -> int:
    """The seed of ``epoch`` of a run seeded ``seed``: without ``rank``, the data order every process
    shares; with it, that process's own draws (dropout). The two never coincide (a spawn key tells the
    order's stream apart: SeedSequence hashes ``[seed, epoch]`` as ``[seed, epoch, 0]``)."""
    if rank is None:
        return int(np.random.SeedSequence([seed, epoch], spawn_key=(1,)).generate_state(1)[0])
    return int(np.random.SeedSequence([seed, epoch, rank]).generate_state(1)[0])
