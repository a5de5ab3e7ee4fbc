"""Stage 1's computation of the cleanliness scores registered in `finecl_hf.order_scores` (`SCORES`).

`compute_score_columns` walks the registry in order and computes each score whose inputs (`ScoreInputs`: the recorded
training dynamics, the corpus evidence, the oriented scores so far) are there; `score_columns` is its short form.
The registry itself (what each score means, its column, its direction, `cleanliness`) is shared by every stage and
lives in `finecl_hf.order_scores`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from transformers.utils import logging

from ..order_scores import (
    COMBINED_COMPONENTS,
    DYNAMICS,
    SCORES,
    SCORES_SO_FAR,
    cleanliness,
    finite_or_median,
)
from .evidence import CorpusEvidence
from .state import LearningOrderState

logger = logging.get_logger(__name__)

__all__ = ["ScoreInputs", "compute_score_columns", "score_columns"]


@dataclass
class ScoreInputs:
    """What the registered scores read; a score whose input is absent is not computed.

    Attributes:
        dynamics: stage 1's recorded statistics (`None`: no classifier was trained, e.g. the benchmark's
            training-free arm).
        evidence: the corpus evidence (labels, documents, entity types, frozen features) or `None`.
        oriented: oriented (higher = cleaner) values of the scores computed so far, filled by `compute_score_columns`.
    """

    dynamics: LearningOrderState | None = None
    evidence: CorpusEvidence | None = None
    oriented: dict[str, np.ndarray] = field(default_factory=dict)

    def missing(self, need: str) -> str | None:
        """Why an input is unavailable (`None` when it is there)."""
        if need == DYNAMICS:
            if self.dynamics is None:
                return "no stage-1 statistics"
            return None if self.dynamics.has_dynamics else "the run resumed from a checkpoint without training dynamics"
        if need == SCORES_SO_FAR:
            present = [name for name in COMBINED_COMPONENTS if name in self.oriented]
            return None if len(present) >= 2 else f"fewer than two of its components ({', '.join(COMBINED_COMPONENTS)}) were computed"
        if self.evidence is None:
            return "no corpus evidence was given"
        return self.evidence.missing(need)


def score_columns(state: LearningOrderState | None, evidence: CorpusEvidence | None = None) -> dict[str, np.ndarray]:
    """Every registered score's column that the inputs allow, in its export dtype (see `compute_score_columns`)."""
    return compute_score_columns(ScoreInputs(state, evidence))[0]


def compute_score_columns(
    inputs: ScoreInputs, names: Sequence[str] | None = None
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """`(columns, seconds)`: each score's column in its export dtype, and the wall time of its own work.

    Args:
        names: the scores to compute (default: every registered score whose inputs are there; the others are skipped
            with one log line each). A named score whose input is missing raises `ValueError` saying why.

    A state restored from a checkpoint that predates the training-dynamics statistics (`has_dynamics = False`) only
    yields `learned_epoch`: its statistics miss the first epochs.
    """
    unknown = [name for name in names or () if name not in SCORES]
    if unknown:
        raise ValueError(f"unknown cleanliness score(s) {unknown}; registered: {', '.join(SCORES)}.")
    columns, seconds = {}, {}
    for name, score in SCORES.items():
        if names is not None and name not in names:
            continue
        reason = inputs.missing(score.needs)
        if name == "learned_epoch" and inputs.dynamics is not None:
            reason = None
        if reason is not None:
            if names is not None:
                raise ValueError(f"cleanliness score {name!r} cannot be computed: {reason}.")
            logger.info(f"cleanliness score {name!r} skipped: {reason}.")
            continue
        logger.info(f"cleanliness score {name!r}: computing ({score.needs}).")
        start = time.perf_counter()
        values = np.asarray(score.compute(inputs))
        seconds[name] = time.perf_counter() - start
        logger.info(f"cleanliness score {name!r}: {values.size} instances in {seconds[name]:.1f} s.")
        columns[name] = values.astype(score.dtype)
        if name in COMBINED_COMPONENTS:
            inputs.oriented[name] = finite_or_median(cleanliness(name, columns))
    return columns, seconds
