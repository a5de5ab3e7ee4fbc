"""Start-up time: medians of fresh-interpreter runs of each command, one table row per command.

    python benchmarks/bench_startup.py [--runs 5]

Rows are `COMMANDS` entries (label -> argv); add a row by adding an entry (e.g. a CLI's `--help`). The first row is
the floor every finecl-hf entry point pays: `import torch, transformers`. Target (issue 12): `import finecl_hf` within
0.3 s of it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

PYTHON = sys.executable

COMMANDS: dict[str, list[str]] = {
    "import torch, transformers": [PYTHON, "-c", "import torch, transformers"],
    "import transformers": [PYTHON, "-c", "import transformers"],
    "import finecl_hf": [PYTHON, "-c", "import finecl_hf"],
    "import torch, transformers, finecl_hf": [PYTHON, "-c", "import torch, transformers, finecl_hf"],
    "import finecl_hf + AutoConfig/AutoModel lookup": [
        PYTHON, "-c",
        "import finecl_hf; from transformers import AutoConfig, AutoModel; AutoConfig.for_model('finecl')",
    ],
}


def time_command(argv: list[str], runs: int) -> list[float]:
    """Wall-clock seconds of `runs` fresh runs (a failing command stops the benchmark with its stderr)."""
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        # Run outside the repository: `python -c` puts the working directory first on sys.path.
        result = subprocess.run(argv, cwd=tempfile.gettempdir(), env=environment, capture_output=True, text=True,
                                check=False)
        seconds.append(time.perf_counter() - start)
        if result.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="Fresh runs per command (default: %(default)s).")
    args = parser.parse_args()
    time_command(COMMANDS["import torch, transformers"], 1)  # warm the file cache once
    medians = {}
    print(f"| command | median of {args.runs} (s) | min (s) | max (s) | vs. first row (s) |")
    print("|---|---:|---:|---:|---:|")
    for label, argv in COMMANDS.items():
        seconds = time_command(argv, args.runs)
        medians[label] = statistics.median(seconds)
        baseline = next(iter(medians.values()))
        print(f"| `{label}` | {medians[label]:.2f} | {min(seconds):.2f} | {max(seconds):.2f} | "
              f"{medians[label] - baseline:+.2f} |", flush=True)


if __name__ == "__main__":
    main()
