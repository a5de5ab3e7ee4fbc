"""Start-up time of the `finecl` commands: wall-clock seconds of `finecl <command> --help`, median of 5 fresh processes
(wall clock, and CPU time, which waiting for a busy core does not inflate).

    python benchmarks/bench_startup.py                 # every row, 5 runs each
    python benchmarks/bench_startup.py --runs 9 --json startup.json

Target (issue 12): every `--help` within 1.5 s. `--help` is served from text pre-rendered from the real parsers
(`finecl_hf/commands/help.py`), so what remains is the interpreter, `import finecl_hf` (measured by its own row) and
the dispatcher. Each row runs in a fresh process with the environment the commands run with (offline, 1 thread); the
table is printed as Markdown. Exit status 1 when a `--help` row misses the target, or when `import finecl_hf` adds more
than 0.3 s to `import torch, transformers` (the other target of issue 12).

`--checkout DIR` times the same rows against another checkout of the repository (e.g. an older commit extracted with
`git archive`), running its `trainers/*.py` scripts where it has no `finecl` command: the "before" column.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 1.5
# `import finecl_hf` may add at most this much to `import torch, transformers` (registration included).
IMPORT_OVERHEAD_TARGET_SECONDS = 0.3
IMPORT_FLOOR = "import torch, transformers"
IMPORT_ALL = "import torch, transformers, finecl_hf"
COMMANDS = ("convert", "learning-order", "analyse", "pretrain", "finetune", "probe", "demo", "reproduce")
# The script each command replaced, for checkouts that predate `finecl`.
SCRIPTS = {"learning-order": "trainers/learning_order.py", "pretrain": "trainers/pretrain.py",
           "finetune": "trainers/finetune.py", "demo": "trainers/demo.py", "reproduce": "trainers/reproduce.py",
           "convert": "dataset_scripts/semeval.py"}  # fmt: skip


def rows(checkout: Path) -> list[tuple[str, list[str], bool]]:
    """`(label, command, is a --help row)` for every row of the table."""
    python = sys.executable
    has_finecl = (checkout / "finecl_hf" / "commands" / "__init__.py").is_file()
    finecl = [python, "-m", "finecl_hf.commands"]
    table = [
        ("python -c pass", [python, "-c", "pass"], False),
        (IMPORT_FLOOR, [python, "-c", "import torch, transformers"], False),
        ("import finecl_hf", [python, "-c", "import finecl_hf"], False),
        (IMPORT_ALL, [python, "-c", "import torch, transformers, finecl_hf"], False),
        ("import finecl_hf + AutoConfig lookup",
         [python, "-c", "import finecl_hf; from transformers import AutoConfig; AutoConfig.for_model('finecl')"], False),
    ]
    if has_finecl:
        table.append(("finecl --help", [*finecl, "--help"], True))
    for name in COMMANDS:
        if has_finecl:
            table.append((f"finecl {name} --help", [*finecl, name, "--help"], True))
        elif name in SCRIPTS:
            table.append((f"{SCRIPTS[name]} --help", [python, str(checkout / SCRIPTS[name]), "--help"], True))
    if has_finecl:
        table.append(("finecl convert semeval --help", [*finecl, "convert", "semeval", "--help"], True))
        table.append(("trainers/finetune.py --help", [python, str(checkout / "trainers/finetune.py"), "--help"], True))
    return table


def time_command(command: list[str], env: dict[str, str], runs: int, cwd: Path = REPOSITORY) -> tuple[list[float], list[float], int]:
    """Wall-clock and CPU (user + system) seconds of each of `runs` fresh processes. CPU time is the fairer number on
    a machine shared with other jobs: waiting for a core does not count."""
    wall, cpu, returncode = [], [], 0
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        completed = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, check=False)
        wall.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if completed.returncode != 0:  # timed all the same (an old checkout's --help may crash), and reported
            returncode = completed.returncode
            print(f"{' '.join(command)}: exit {completed.returncode}: {completed.stderr.strip()[-300:]}", file=sys.stderr)
    return wall, cpu, returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="Fresh processes per row (default: %(default)s).")
    parser.add_argument("--checkout", type=Path, default=REPOSITORY, help="Repository checkout to time.")
    parser.add_argument("--json", type=Path, help="Also write the medians to this JSON file.")
    args = parser.parse_args()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "OMP_NUM_THREADS": "1", "PYTHONPATH": str(args.checkout.resolve())}  # fmt: skip
    results, missed = {}, []
    print(f"| command ({args.checkout.resolve().name}) | median s | min s | max s | median CPU s | within {TARGET_SECONDS} s |")
    print("|---|---|---|---|---|---|")
    for label, command, is_help in rows(args.checkout.resolve()):
        wall, cpu, returncode = time_command(command, env, args.runs, cwd=args.checkout.resolve())
        median = statistics.median(wall)
        results[label] = {"wall": median, "cpu": statistics.median(cpu)}
        verdict = ("yes" if median <= TARGET_SECONDS else "NO") if is_help else ""
        if is_help and (median > TARGET_SECONDS or returncode):
            missed.append(label)
        verdict += f" (exit {returncode})" if returncode else ""
        print(f"| `{label}` | {median:.2f} | {min(wall):.2f} | {max(wall):.2f} | {statistics.median(cpu):.2f} | {verdict} |",
              flush=True)
    if IMPORT_ALL in results:
        overhead = results[IMPORT_ALL]["wall"] - results[IMPORT_FLOOR]["wall"]
        print(f"\n`import finecl_hf` adds {overhead:+.2f} s to `{IMPORT_FLOOR}` (target: at most "
              f"{IMPORT_OVERHEAD_TARGET_SECONDS} s).")
        if overhead > IMPORT_OVERHEAD_TARGET_SECONDS:
            missed.append(IMPORT_ALL)
    if args.json:
        args.json.write_text(json.dumps({"runs": args.runs, "median_seconds": results}, indent=2) + "\n")
    if missed:
        print(f"\nMissed the {TARGET_SECONDS} s target (or failed): {', '.join(missed)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
