"""The one seeding helper: independent, reproducible 32-bit seeds derived from a run seed.

Every sampling step (a generation batch, a retry round, a curation shuffle, a training stage)
derives its seed from the run seed and a path of integers, so two runs with the same seed give the
same output and no two steps share a random stream.
"""

from __future__ import annotations


def derive_seed(seed: int, *parts: int) -> int:
    """Seed for the step ``parts`` of a run seeded with ``seed`` (numpy ``SeedSequence``, 32 bits)."""
    import numpy as np

    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, *(int(p) for p in parts)]).generate_state(1)[0])
