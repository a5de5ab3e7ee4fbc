"""Representation probe: a linear classifier on a frozen encoder's [e_head; e_tail], over many seeded k-shot draws.

- `probe_task_encoder(path, "wiki80" | "semeval")` / `probe_encoder(path, shot_rows, test_rows)`: one encoder;
- `compare_probes(a, b)`: paired difference on the same draws and test set, with a bootstrap 95% CI;
  `compare_probe_groups([a_seed0, a_seed1], [b_seed0, b_seed1])`: the same over pre-training seeds, the CI also
  carrying the seed spread;
- `finecl probe --model_name_or_path A [B ...] --task wiki80`: the command line.

The frozen encoder, its cached features and the linear classifier live in `finecl_hf.representations` (shared with
stage 1's evidence scores) and are re-exported here.
"""

from ..representations.classifier import DEFAULT_WEIGHT_DECAY, LinearProbe, fit_linear_probe
from ..representations.encoder import FrozenRelationEncoder, load_frozen_encoder
from ..representations.features import TokenizationSettings, encode_split
from .probe import (
    PairedComparison,
    ProbeResult,
    ProbeSettings,
    compare_probe_groups,
    compare_probes,
    draw_shots,
    probe_encoder,
    probe_task_encoder,
)
from .scoring import Interval, score_draws
from .tasks import PROBE_TASKS, ProbeTask

__all__ = [
    "DEFAULT_WEIGHT_DECAY",
    "PROBE_TASKS",
    "FrozenRelationEncoder",
    "Interval",
    "LinearProbe",
    "PairedComparison",
    "ProbeResult",
    "ProbeSettings",
    "ProbeTask",
    "TokenizationSettings",
    "compare_probe_groups",
    "compare_probes",
    "draw_shots",
    "encode_split",
    "fit_linear_probe",
    "load_frozen_encoder",
    "probe_encoder",
    "probe_task_encoder",
    "score_draws",
]
