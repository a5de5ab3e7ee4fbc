"""Benchmark of the representation probe: encoding cost and the probe's own cost on the real tasks.

    python benchmarks/bench_probe.py                           # offline MiniLM, wiki80 and semeval, 8 shots, 20 draws
    python benchmarks/bench_probe.py --encoder runs/finecl --tasks wiki80

For each task, with an empty feature cache: the wall time of encoding the test split (Wiki80 dev: 5,600 sentences;
SemEval test: 2,717) and the drawn shots, then of fitting the 20 linear probes and bootstrapping the CIs; then the
same probe again from the cache. Prints the times and the probe's scores (points, mean [95% CI]).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from finecl_hf.paths import offline_encoder_path  # noqa: E402
from finecl_hf.probing import PROBE_TASKS, ProbeSettings, load_frozen_encoder, probe_task_encoder  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", default=None, help="Encoder folder (default: the offline MiniLM).")
    parser.add_argument("--tasks", nargs="+", default=list(PROBE_TASKS), choices=list(PROBE_TASKS))
    parser.add_argument("--shots", type=int, default=8)
    parser.add_argument("--num-draws", type=int, default=20)
    args = parser.parse_args()
    encoder = load_frozen_encoder(args.encoder or offline_encoder_path())
    # SemEval train has one Entity-Destination(e2,e1): that class gives all it has.
    settings = ProbeSettings(shots=args.shots, num_draws=args.num_draws, allow_fewer_shots=True)
    print(f"{encoder}\n{settings}")
    with tempfile.TemporaryDirectory() as cache_dir:
        for task in args.tasks:
            dataset = PROBE_TASKS[task].load()
            for run in ("empty cache", "from cache"):
                start = time.perf_counter()
                result = probe_task_encoder(encoder, task, settings=settings, cache_dir=cache_dir, dataset=dataset)
                total = time.perf_counter() - start
                timings = result.timings
                print(
                    f"{task:<8} {run:<12} total {total:7.1f} s   encode test ({result.references.shape[0]} rows) "
                    f"{timings['encode_test_seconds']:7.1f} s   encode shots {timings['encode_shots_seconds']:7.1f} s   "
                    f"fit {settings.num_draws} probes {timings['fit_seconds']:6.1f} s",
                    flush=True,
                )
            print("  " + "   ".join(f"{metric} {interval}" for metric, interval in result.summary.items()), flush=True)


if __name__ == "__main__":
    main()
