"""Benchmark of the data layer: convert + tokenize synthetic DocRED-format corpora of 10k and 100k documents.

    python benchmarks/bench_data.py                       # sizes 10000 100000, num_proc 2, MiniLM tokenizer
    python benchmarks/bench_data.py --sizes 2000 20000    # quicker

For each size a synthetic corpus is generated (seeded, streamed to disk), then each phase runs in its own subprocess
so that its peak RSS (`resource.getrusage`, the process and its `num_proc` workers) is its own; the clock starts after
the imports, and the RSS after imports (torch, transformers: the floor of any process) is printed beside the peak.
Peak RSS includes the pages of memory-mapped Arrow files the process touched (file-backed, reclaimable); the peak
*anonymous* memory (heap) of the process and its workers, sampled every 0.1 s, is printed as well:

- convert: `convert_docred` (streaming JSON -> Parquet + card, documents and relation instances);
- tokenize: `load_dataset(folder)` then `tokenize_documents(..., num_proc)`.

It prints time and peak RSS per phase and size, and the scaling of the largest size against the smallest: the target
is time <= 1.1 x linear and a flat peak RSS. Synthetic documents look like DocRED's: 8 sentences of ~25 words, 18
entities with 1-3 mentions, 12 relation triples.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import psutil  # installed with accelerate

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

RELATIONS = {f"P{number}": f"relation {number}" for number in range(1, 97)}
VOCABULARY = (
    "the of and in to a was is for on as by with he at from that his it an were are which this be has or had first "
    "also new one their after its who but two been they have her not she all other time during year years later "
    "school born city state national world team season history war music film album song river county village "
    "university company party church government league game series station population released played became known"
).split()
ENTITY_NAMES = [
    f"{first} {last}"
    for first in ("Anna", "Bruno", "Chen", "Dara", "Emil")
    for last in ("Lund", "Moreau", "Okafor", "Silva")
]


def synthetic_document(rng: random.Random, index: int) -> dict:
    sents = [[rng.choice(VOCABULARY) for _ in range(rng.randint(18, 32))] + ["."] for _ in range(8)]
    vertex_set = []
    for _ in range(18):
        name = rng.choice(ENTITY_NAMES).split()
        mentions = []
        for _ in range(rng.randint(1, 3)):
            sent_id = rng.randrange(len(sents))
            start = rng.randrange(len(sents[sent_id]) - len(name))
            sents[sent_id][start : start + len(name)] = name
            mentions.append(
                {"name": " ".join(name), "pos": [start, start + len(name)], "sent_id": sent_id, "type": "PER"}
            )
        vertex_set.append(mentions)
    pairs = rng.sample([(h, t) for h in range(18) for t in range(18) if h != t], 12)
    labels = [{"h": h, "t": t, "r": rng.choice(list(RELATIONS)), "evidence": [0]} for h, t in pairs]
    return {"title": f"Document {index}", "sents": sents, "vertexSet": vertex_set, "labels": labels}


def generate(path: Path, size: int, seed: int = 0) -> None:
    """Stream `size` synthetic documents into a JSON array file."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("[")
        for index in range(size):
            handle.write(("," if index else "") + json.dumps(synthetic_document(rng, index)))
        handle.write("]")
    (path.parent / "rel_info.json").write_text(json.dumps(RELATIONS))


def peak_rss_mb() -> float:
    """Peak resident set size of this process and of its (waited-for) children, in MiB (Linux: ru_maxrss is KiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


class AnonymousMemorySampler(threading.Thread):
    """Samples, every `interval` s, the anonymous resident memory (heap, not file-backed pages such as memory-mapped
    Arrow files) of this process plus its children (the `num_proc` workers), and keeps the peak of the sum."""

    def __init__(self, interval: float = 0.1):
        super().__init__(daemon=True)
        self.interval = interval
        self.peak_mb = 0.0
        self._done = threading.Event()

    @staticmethod
    def _anonymous_mb(pid: int) -> float:
        try:
            with open(f"/proc/{pid}/status") as handle:
                line = next(line for line in handle if line.startswith("RssAnon:"))
        except (OSError, StopIteration):
            return 0.0
        return int(line.split()[1]) / 1024

    def run(self) -> None:
        me = psutil.Process()
        while True:  # sample before waiting: a phase shorter than `interval` still gets one sample
            pids = [me.pid] + [child.pid for child in me.children(recursive=True)]
            self.peak_mb = max(self.peak_mb, sum(self._anonymous_mb(pid) for pid in pids))
            if self._done.wait(self.interval):
                return

    def stop(self) -> float:
        self._done.set()
        self.join()
        return self.peak_mb


def current_rss_mb() -> float:
    """Resident set size of this process now, in MiB (Linux)."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def run_phase(phase: str, workdir: Path, num_proc: int, tokenizer_path: str) -> dict:
    """One phase in this (fresh) process; imports happen before the clock starts and before the RSS baseline."""
    from datasets import load_dataset
    from transformers import AutoTokenizer

    from finecl_hf.data.conversion import SplitSource
    from finecl_hf.data.docred import convert_docred
    from finecl_hf.data.tokenization import tokenize_documents

    with measured_phase(phase) as result:
        if phase == "convert":
            report = convert_docred([SplitSource("train", workdir / "train.json")], workdir / "dataset",
                                    rel_info_file=workdir / "rel_info.json")  # fmt: skip
            result["rows"] = report.num_rows["default"]["train"]
        else:
            documents = load_dataset(str(workdir / "dataset"), split="train", cache_dir=str(workdir / "cache"))
            tokenizer = AutoTokenizer.from_pretrained(tokenizer_path)
            tokenized, _ = tokenize_documents(documents, tokenizer, num_proc=num_proc if num_proc > 1 else None)
            result["rows"] = len(tokenized)
    return result


@contextmanager
def measured_phase(phase: str) -> Iterator[dict]:
    """The record of one phase: the block's wall time, this process's peak RSS and the peak anonymous memory of all
    its processes (imports done before the block are in the baseline, `rss_after_imports_mb`); the block adds `rows`
    (and whatever else describes its work) to it."""
    record = {"phase": phase, "rss_after_imports_mb": current_rss_mb()}
    sampler = AnonymousMemorySampler()
    sampler.start()
    start = time.perf_counter()
    yield record
    record.update(seconds=time.perf_counter() - start, peak_rss_mb=peak_rss_mb(), peak_anonymous_mb=sampler.stop())


def measure_phases(
    script: str, phases: Sequence[str], size: int, num_proc: int, tokenizer_path: str, root: Path,
    describe: Callable[[dict], str],
) -> list[dict]:
    """Generate `size` synthetic documents, then run each phase of `script` (`--phase NAME ...`, printing its result
    as a JSON last line) in a fresh process, so that each phase's peak memory is its own; print `describe(result)`."""
    workdir = root / f"docs-{size}"
    workdir.mkdir()
    generate(workdir / "train.json", size)
    results = []
    for phase in phases:
        command = [sys.executable, script, "--phase", phase, "--workdir", str(workdir), "--num-proc", str(num_proc),
                   "--tokenizer", tokenizer_path]  # fmt: skip
        completed = subprocess.run(command, capture_output=True, text=True, check=False)
        if completed.returncode != 0:
            raise RuntimeError(f"{phase} of {size} documents failed:\n{completed.stderr[-3000:]}")
        result = {"documents": size, **json.loads(completed.stdout.strip().splitlines()[-1])}
        results.append(result)
        print(describe(result), flush=True)
    return results


def describe_speed(result: dict) -> str:
    return (
        f"{result['documents']:>8} documents  {result['phase']:<8} {result['seconds']:7.1f} s   peak RSS "
        f"{result['peak_rss_mb']:5.0f} MiB (after imports {result['rss_after_imports_mb']:.0f})   peak anonymous, "
        f"all processes {result['peak_anonymous_mb']:5.0f} MiB"
    )


def phase_benchmark(
    script: str,
    phases: tuple[str, ...],
    run_phase_in_child: Callable[[str, Path, int, str], dict],
    describe: Callable[[dict], str],
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
) -> tuple[argparse.Namespace, list[dict]] | None:
    """The command line every phase benchmark shares (`--sizes`, `--num-proc`, `--tokenizer`): run each phase of each
    size in a child process of `script` (`--phase` and `--workdir`, hidden) and return `(args, results)`; in such a
    child, run the phase, print its JSON line and return `None`."""
    parser = argparse.ArgumentParser(description=sys.modules["__main__"].__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--num-proc", type=int, default=2, help="Processes for tokenization (default: %(default)s).")
    parser.add_argument("--tokenizer", default=None, help="Tokenizer path (default: the offline MiniLM).")
    if add_arguments is not None:
        add_arguments(parser)
    parser.add_argument("--phase", choices=phases, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.tokenizer is None:
        from finecl_hf.paths import offline_encoder_path

        args.tokenizer = offline_encoder_path()
    if args.phase is not None:
        print(json.dumps(run_phase_in_child(args.phase, args.workdir, args.num_proc, args.tokenizer)))
        return None
    with tempfile.TemporaryDirectory(prefix=f"finecl-{Path(script).stem}-") as root:
        results = [
            row for size in sorted(args.sizes)
            for row in measure_phases(script, phases, size, args.num_proc, args.tokenizer, Path(root), describe)
        ]  # fmt: skip
    return args, results


def main() -> None:
    measured = phase_benchmark(__file__, ("convert", "tokenize"), run_phase, describe_speed)
    if measured is None:
        return
    args, results = measured
    small, large = min(args.sizes), max(args.sizes)
    if small == large:
        return
    print(f"\nscaling {small} -> {large} documents (x{large / small:g}); target: time <= 1.1 x linear, flat RSS")
    for phase in ("convert", "tokenize"):
        first, last = (next(r for r in results if r["phase"] == phase and r["documents"] == n) for n in (small, large))
        time_ratio = last["seconds"] / (first["seconds"] * large / small)
        rss_ratio = last["peak_rss_mb"] / first["peak_rss_mb"]
        anonymous_ratio = last["peak_anonymous_mb"] / first["peak_anonymous_mb"]
        print(
            f"  {phase:<8} time / linear = {time_ratio:.2f}   peak RSS ratio = {rss_ratio:.2f}"
            f"   peak anonymous ratio = {anonymous_ratio:.2f}"
        )


if __name__ == "__main__":
    main()
