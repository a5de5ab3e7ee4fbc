"""Class upsampling of paper §3.1 (not in the original code, which released only a precomputed order).

Hard relation classes may be under-represented among learned instances, and pre-training weights unlearned instances
least. After the k epochs, every class with fewer than P% of its instances learned gets randomly chosen (seeded)
unlearned instances moved into a learned subset until P% is reached.

Which subset they join: the last one, A_{k-1}. The paper only says "one of the k subsets". The last subset carries
the lowest weight among learned instances in eq. 5, and these instances were *not* confirmed by the model, so placing
them anywhere earlier would claim more confidence in their labels than the evidence gives; A_{k-1} satisfies the P%
guarantee while keeping the order "confirmed earlier ⇒ weighted higher" intact.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .state import NOT_LEARNED


def upsample_classes(
    learned_epoch: Any,
    labels: Any,
    min_percent: float,
    num_epochs: int,
    seed: int,
    ignore_labels: Iterable[int] = (),
) -> tuple[np.ndarray, np.ndarray]:
    """Move unlearned instances of under-learned classes into subset A_{num_epochs-1} until each class reaches P%.

    A class with n instances needs ceil(P/100 · n) learned ones; when it has fewer, that many minus its learned count
    are drawn without replacement from its unlearned instances (one `numpy.random.default_rng(seed)` for the whole
    call, classes visited in increasing label order, so the result depends only on the inputs).

    Args:
        learned_epoch: `[instances]` epoch of first correct prediction, `-1` = never.
        labels: `[instances]` class id of each instance.
        min_percent: P, in [0, 100].
        num_epochs: k; upsampled instances get `learned_epoch = k - 1`.
        seed: seed of the random choice.
        ignore_labels: classes never upsampled (no-relation when it is not recorded as learnable).

    Returns:
        `(new_learned_epoch, upsampled)`: a copy of the order with the moved instances set to `k - 1`, and a boolean
        mask of the moved instances.
    """
    if not 0 <= min_percent <= 100:
        raise ValueError(f"min_percent={min_percent} is invalid: it must be in [0, 100].")
    if num_epochs < 1:
        raise ValueError(f"num_epochs={num_epochs} is invalid: upsampled instances join subset A_(num_epochs-1).")
    learned_epoch = np.asarray(learned_epoch)
    labels = np.asarray(labels).reshape(-1)
    if learned_epoch.shape != labels.shape:
        raise ValueError(f"learned_epoch has {learned_epoch.size} entries but labels has {labels.size}.")
    result = learned_epoch.copy()
    upsampled = np.zeros(labels.shape, dtype=bool)
    ignored = set(int(label) for label in ignore_labels)
    rng = np.random.default_rng(seed)
    for label in np.unique(labels):
        if int(label) in ignored:
            continue
        members = np.flatnonzero(labels == label)
        required = int(np.ceil(min_percent / 100.0 * members.size - 1e-9))
        unlearned = members[learned_epoch[members] == NOT_LEARNED]
        missing = required - (members.size - unlearned.size)
        if missing > 0:
            chosen = rng.choice(unlearned, size=missing, replace=False)
            result[chosen] = num_epochs - 1
            upsampled[chosen] = True
    return result, upsampled
