"""Load test of the data layer and its collators: a synthetic 100k-document corpus, end to end, under a memory bound.

    python benchmarks/bench_load.py                        # 10k and 100k documents, bound 2048 MiB
    python benchmarks/bench_load.py --sizes 2000 --num-proc 1 --bound-mib 1536     # quick

The corpus comes from `benchmarks/bench_data.py`'s generator (DocRED-like: 8 sentences of ~25 words, 18 entities with
1-3 mentions, 12 relation triples per document). Each phase runs in a fresh process, so its peak memory is its own
(`bench_data.py` measures conversion and tokenization speed in more detail; here they only produce the inputs):

- convert: `convert_docred` (documents + `relation_instances`: 48 instances per document, 4.8M at 100k);
- tokenize: `tokenize_documents` (`num_proc` workers), saved with `save_to_disk` for the next phases;
- documents: one pass of `DocumentRelationCollator` over every document (batches of 8, all 306 entity pairs each,
  multi-hot labels, pair metadata), through a `torch` `DataLoader` as the `Trainer` would;
- instances: `drop_instances_without_mentions` then one pass of `RelationInstanceCollator` over every relation
  instance (batches of 32, documents read from Arrow per batch), as learning-order stage 1 would.

The bound applies to the peak *anonymous* resident memory of the phase's process and its workers (heap; sampled every
0.1 s): the memory a job must be granted. Peak RSS is printed too; it also counts pages of the memory-mapped Arrow files
that were read (file-backed, reclaimable page cache), which grow with the corpus by design. Exit status 1 when a phase
exceeds the bound or when, between the smallest and the largest size, peak anonymous memory grows more than
`--max-growth` times (the data path must stream, not accumulate).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCHMARKS))

from bench_data import measured_phase, phase_benchmark  # noqa: E402

PHASES = ("convert", "tokenize", "documents", "instances")
DOCUMENT_BATCH = 8
INSTANCE_BATCH = 32


def consume(batch: dict) -> int:
    """Touch every tensor of a batch (so nothing stays lazy) and return the number of pairs it holds."""
    for value in batch.values():
        if hasattr(value, "sum"):
            value.sum()
    return int(batch["pair_entity_ids"].shape[0])


def run_phase(phase: str, workdir: Path, num_proc: int, tokenizer_path: str) -> dict:
    """One phase in this (fresh) process; imports come before the clock and the memory baseline."""
    import torch
    from datasets import Dataset, load_from_disk
    from transformers import AutoTokenizer

    from finecl_hf.data.conversion import SplitSource, find_split_file
    from finecl_hf.data.data_collator import (
        DocumentRelationCollator,
        RelationInstanceCollator,
        drop_instances_without_mentions,
    )
    from finecl_hf.data.docred import convert_docred
    from finecl_hf.data.relation_instances import RELATION_INSTANCES_CONFIG
    from finecl_hf.data.tokenization import tokenize_documents

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_path)
    dataset_dir = workdir / "dataset"

    def parquet(config: str) -> str:
        """The converted split's Parquet file, read directly (no `datasets` cache copy to count)."""
        return str(find_split_file(dataset_dir, config, "train"))

    with measured_phase(phase) as result:
        if phase == "convert":
            report = convert_docred(
                [SplitSource("train", workdir / "train.json")], dataset_dir, rel_info_file=workdir / "rel_info.json"
            )
            rows = report.num_rows[RELATION_INSTANCES_CONFIG]["train"]
            unit = "instances written"
        elif phase == "tokenize":
            documents = Dataset.from_parquet(parquet("default"), cache_dir=str(workdir / "cache"))
            tokenized, _ = tokenize_documents(documents, tokenizer, num_proc=num_proc if num_proc > 1 else None)
            tokenized.save_to_disk(str(workdir / "tokenized"))
            rows, unit = len(tokenized), "documents tokenized"
        elif phase == "documents":
            documents = load_from_disk(str(workdir / "tokenized"))
            collator = DocumentRelationCollator(tokenizer, num_labels=97, return_pair_metadata=True)
            loader = torch.utils.data.DataLoader(documents, batch_size=DOCUMENT_BATCH, collate_fn=collator)
            rows, unit = sum(consume(batch) for batch in loader), "entity pairs collated"
        else:
            documents = load_from_disk(str(workdir / "tokenized"))
            instances = Dataset.from_parquet(parquet(RELATION_INSTANCES_CONFIG), cache_dir=str(workdir / "cache"))
            usable, _ = drop_instances_without_mentions(instances, documents)
            collator = RelationInstanceCollator(tokenizer, documents, return_instance_uids=True)
            loader = torch.utils.data.DataLoader(usable, batch_size=INSTANCE_BATCH, collate_fn=collator)
            rows, unit = sum(consume(batch) for batch in loader), "relation instances collated"
        result.update(rows=rows, unit=unit)
    return result


def describe_load(result: dict) -> str:
    return (
        f"{result['documents']:>8} documents  {result['phase']:<9} {result['seconds']:7.1f} s  {result['rows']:>10,} "
        f"{result['unit']:<28} peak anonymous {result['peak_anonymous_mb']:6.0f} MiB   peak RSS "
        f"{result['peak_rss_mb']:6.0f} MiB (after imports {result['rss_after_imports_mb']:.0f})"
    )


def check(results: list[dict], sizes: list[int], bound_mb: float, max_growth: float) -> list[str]:
    """The violated limits, as sentences (empty when every phase stayed within them)."""
    problems = [
        f"{r['phase']} of {r['documents']} documents: peak anonymous memory {r['peak_anonymous_mb']:.0f} MiB "
        f"> bound {bound_mb:.0f} MiB"
        for r in results
        if r["peak_anonymous_mb"] > bound_mb
    ]
    small, large = min(sizes), max(sizes)
    if small != large:
        print(f"\nscaling {small} -> {large} documents (x{large / small:g}): peak anonymous memory, time / linear")
        for phase in PHASES:
            first, last = (
                next(r for r in results if r["phase"] == phase and r["documents"] == n) for n in (small, large)
            )
            growth = last["peak_anonymous_mb"] / first["peak_anonymous_mb"]
            linear = last["seconds"] / (first["seconds"] * large / small)
            print(f"  {phase:<9} memory x{growth:.2f}   time / linear {linear:.2f}")
            if growth > max_growth:
                problems.append(f"{phase}: peak anonymous memory grew x{growth:.2f} (> x{max_growth}) with the corpus")
    return problems


def add_bounds(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bound-mib", type=float, default=2048.0,
                        help="Bound on each phase's peak anonymous memory, MiB (default: %(default)s).")  # fmt: skip
    parser.add_argument("--max-growth", type=float, default=1.5,
                        help="Largest allowed growth of peak anonymous memory from the smallest to the largest size "
                        "(default: %(default)s).")  # fmt: skip


def main() -> None:
    measured = phase_benchmark(__file__, PHASES, run_phase, describe_load, add_bounds)
    if measured is None:
        return
    args, results = measured
    problems = check(results, args.sizes, args.bound_mib, args.max_growth)
    print("\n" + ("\n".join(f"FAIL: {problem}" for problem in problems) if problems else
                  f"PASS: every phase stayed under {args.bound_mib:.0f} MiB of anonymous memory"))  # fmt: skip
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
