#!/usr/bin/env python
"""How the cost of stage 1's evidence grows with the corpus: wall time and peak memory per component, growth exponents.

Features-only mode (`--mode features`, the default): `n` instances of `d`-dimensional frozen features with planted
clusters and planted wrong labels, no encoder needed. Encoder features have a low intrinsic dimension, so the clusters
live in a `--latent_dim` (48) subspace: each relation owns `--clusters_per_relation` centres there (Gaussian, scale
`--cluster_scale`), an instance is its cluster's centre plus unit Gaussian noise in the subspace, mapped to `d`
dimensions by a fixed random basis, plus isotropic noise of scale `--isotropic_noise` in all `d`. Documents group
`--instances_per_document` consecutive instances; `--noise` of the labels are replaced by another relation (the
instance keeps its true relation's entity types, as a distant-supervision error does). The features are written
once per size to a float32 `.npy` file and read back memory-mapped, as stage 1 reads its features file.

For each size one child process computes every evidence score through the score registry
(`finecl_hf.learning_order.scores.compute_score_columns`: `type_agreement`, `neighbour_agreement`, `out_of_sample`,
`combined` with its second round) and reports each score's wall time, the peak RSS while it ran (sampled every 0.05 s;
memory-mapped feature pages count, as `ru_maxrss` counts them) and its ROC-AUC against the planted truth. The first
score to touch the features pays for reading them.

Corpus mode (`--mode corpus`): copies of the 500 shipped Re-DocRED documents (`$FINECL_DATA_DIR`) under new titles,
with every entity name of a copy suffixed by its copy number (so names, facts and fingerprints differ between copies
while relation, entity-type and length statistics stay those of Re-DocRED). Each component runs as its own command
in a child process, timed and with its peak RSS (the process and its workers, `RUSAGE_CHILDREN`):

- `convert`: `finecl convert docred` (documents + seeded no-relation samples);
- `label`: `finecl convert distant-supervision` with a fact list `--fact_copies` (10) times DocRED's 52,293 facts (the
  copies' facts renamed as their documents are, plus facts of names no document has);
- `stage1`: `finecl learning-order --recipe tuned --max_steps 2` with the offline MiniLM on the converted folder, at
  the sizes up to `--stage1_max_documents`: tokenization, two training steps, the evidence encoding, every score
  and the export (the step list of the issue: its time is dominated by the evidence);
- `analyse`: `finecl analyse` of the exported learning-order dataset.

```bash
python benchmarks/bench_scale.py                                       # n = 30,000 / 300,000 / 1,500,000, d = 768
python benchmarks/bench_scale.py --sizes 30000 300000 --dim 128        # quicker
python benchmarks/bench_scale.py --mode corpus --documents 500 2000 5000 50000 --stage1_max_documents 2000
python benchmarks/bench_scale.py --mode index       # exact vs IVF neighbours on real (MiniLM) features, noise_0.5
make bench-scale                                                       # both, the README tables
```

Index mode (`--mode index`): the approximate search against the exact one on real features (the denoising
benchmark's `noise_0.5` corpus, MiniLM): ROC-AUC of `neighbour_agreement` with each and the recall of the
approximate neighbours, the IVF index probing the share of its lists that the default probes at 1.5M instances.

Writes `<results_dir>/scale_features.{json,md,png}` (corpus mode: `scale_corpus.{json,md}`, index mode:
`scale_index.json`): the table, each
component's growth exponent between the two largest sizes (log time / log n) and over all sizes, and a log-log plot. `--gpu` is refused here (no GPU build of
faiss or accelerator in this project's CI); see the README's "Scaling up".
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPOSITORY = Path(__file__).resolve().parent.parent
COMPONENTS = ("type_agreement", "neighbour_agreement", "out_of_sample", "combined")
CORPUS_COMPONENTS = ("convert", "label", "stage1", "analyse")
ENTITY_TYPES = ("PER", "ORG", "LOC", "TIME")


# ------------------------------------------------------------------------------------------------- planted corpus
def write_planted_corpus(folder: Path, count: int, dim: int, args: argparse.Namespace) -> Path:
    """Features `.npy` (float32, written in blocks) and `labels.npz` (labels, truth, groups, signatures)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    relations, per_relation = args.relations, args.clusters_per_relation
    basis = (rng.standard_normal((args.latent_dim, dim), dtype=np.float32) / np.sqrt(args.latent_dim)).astype(np.float32)
    centres = rng.normal(0.0, args.cluster_scale, (relations * per_relation, args.latent_dim)).astype(np.float32)
    cluster = rng.integers(0, relations * per_relation, count)
    true = cluster % relations
    wrong = rng.random(count) < args.noise
    labels = np.where(wrong, (true + rng.integers(1, relations, count)) % relations, true)
    head_type = rng.integers(0, len(ENTITY_TYPES), relations)
    tail_type = rng.integers(0, len(ENTITY_TYPES), relations)
    features = np.lib.format.open_memmap(folder / "features.npy", mode="w+", dtype=np.float32, shape=(count, dim))
    for start in range(0, count, 65_536):
        stop = min(start + 65_536, count)
        latent = centres[cluster[start:stop]] + rng.standard_normal((stop - start, args.latent_dim), dtype=np.float32)
        isotropic = args.isotropic_noise * rng.standard_normal((stop - start, dim), dtype=np.float32)
        features[start:stop] = latent @ basis + isotropic
    features.flush()
    del features
    np.savez(
        folder / "labels.npz", labels=labels, clean=~wrong, groups=np.arange(count) // args.instances_per_document,
        head_type=head_type[true], tail_type=tail_type[true], relations=np.array(relations),
    )  # fmt: skip
    return folder


# ------------------------------------------------------------------------------------------------- one measured run
class PeakSampler:
    """Peak RSS of this process while each phase runs (`/proc/self/statm`, every `interval` seconds)."""

    def __init__(self, interval: float = 0.05):
        self.interval, self.phase, self.peaks = interval, "start", {}
        self.page = os.sysconf("SC_PAGE_SIZE")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss(self) -> int:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * self.page

    def _run(self) -> None:
        while not self._stop.is_set():
            value = self.rss()
            self.peaks[self.phase] = max(self.peaks.get(self.phase, 0), value)
            time.sleep(self.interval)

    def enter(self, phase: str) -> None:
        self.phase = phase
        self.peaks[phase] = max(self.peaks.get(phase, 0), self.rss())

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def measure(folder: Path, result_file: Path) -> None:
    """Child process: every evidence score of the planted corpus in `folder`, timed, RSS sampled per score."""
    from finecl_hf.learning_order import scores as registry
    from finecl_hf.learning_order.analysis import mann_whitney_auc
    from finecl_hf.learning_order.evidence import CorpusEvidence, EvidenceSettings, type_signatures

    with PeakSampler() as sampler:
        stored = np.load(folder / "labels.npz")
        signatures = type_signatures(
            np.array(ENTITY_TYPES)[stored["head_type"]], np.array(ENTITY_TYPES)[stored["tail_type"]]
        )
        evidence = CorpusEvidence(
            stored["labels"], stored["groups"], int(stored["relations"]), signatures,
            lambda: np.load(folder / "features.npy", mmap_mode="r"), EvidenceSettings(),
        )  # fmt: skip
        baseline = sampler.rss()
        inputs = registry.ScoreInputs(None, evidence)
        timings = {}
        original = dict(registry.SCORES)
        for name in COMPONENTS:  # wrap each compute so the sampler knows which score runs
            score = original[name]

            def timed(inputs, score=score, name=name):
                sampler.enter(name)
                start = time.perf_counter()
                values = score.compute(inputs)
                timings[name] = time.perf_counter() - start
                return values

            registry.SCORES[name] = type(score)(**{**score.__dict__, "compute": timed})
        columns, _ = registry.compute_score_columns(inputs, list(COMPONENTS))
        sampler.enter("recall")
        recall = neighbour_recall(evidence)
    clean = stored["clean"]
    result = {
        "instances": int(clean.size),
        "baseline_rss_bytes": baseline,
        "components": {
            name: {
                "seconds": round(timings[name], 2),
                "peak_rss_bytes": sampler.peaks.get(name, 0),
                "roc_auc": round(float(mann_whitney_auc(columns[name].astype(np.float64), clean)), 4),
            }
            for name in COMPONENTS
        },
        "evidence_seconds": round(sum(timings.values()), 2),
        "peak_rss_bytes": max(sampler.peaks.values()),
        "exact_search": int(clean.size) <= evidence.settings.neighbour_index.exact_search_max,
        "neighbour_recall": recall,
    }
    result_file.write_text(json.dumps(result, indent=1))


# ------------------------------------------------------------------------------------------------- corpus mode
def write_corpus_copies(folder: Path, num_documents: int, fact_copies: int) -> tuple[Path, Path]:
    """`documents.json` (copies of the shipped Re-DocRED documents) and `facts.json.gz` (DocRED's facts, renamed per
    copy, `fact_copies` times as many)."""
    import gzip

    data_dir = Path(os.environ.get("FINECL_DATA_DIR", REPOSITORY.parent / "shared" / "data"))
    with gzip.open(data_dir / "redocred" / "test_revised.json.gz", "rt") as source:
        originals = json.load(source)
    with gzip.open(data_dir / "docred" / "train_annotated.fact.json.gz", "rt") as source:
        facts = json.load(source)
    folder.mkdir(parents=True, exist_ok=True)
    documents_path, facts_path = folder / "documents.json", folder / "facts.json.gz"
    with open(documents_path, "w") as sink:
        sink.write("[")
        for position in range(num_documents):
            copy, document = divmod(position, len(originals))
            sink.write(("," if position else "") + json.dumps(_renamed(originals[document], copy)))
        sink.write("]")
    copies = -(-num_documents // len(originals))
    with gzip.open(facts_path, "wt") as sink:
        sink.write("[")
        for fact_copy in range(fact_copies):
            suffix = fact_copy if fact_copy < copies else f"kb{fact_copy}"  # beyond the documents' copies: no match
            for position, (head, tail, relation) in enumerate(facts):
                renamed = [_copy_name(head, suffix), _copy_name(tail, suffix), relation]
                sink.write(("," if fact_copy or position else "") + json.dumps(renamed))
        sink.write("]")
    return documents_path, facts_path


def _copy_name(name: str, copy: int | str) -> str:
    return name if copy == 0 else f"{name} {copy}"


def _renamed(document: dict, copy: int) -> dict:
    if copy == 0:
        return document
    renamed = json.loads(json.dumps(document))
    renamed["title"] = f"{document['title']} (copy {copy})"
    for entity in renamed["vertexSet"]:
        for mention in entity:
            mention["name"] = _copy_name(mention["name"], copy)
    return renamed


def run_measured(command: list[str], log: Path) -> dict:
    """Wall seconds and peak RSS (the process and every child it waited for) of `command`, run from a fresh parent
    so that `RUSAGE_CHILDREN` holds this command alone; its output goes to `log`."""
    probe = (
        "import resource, subprocess, sys, time\n"
        "start = time.perf_counter()\n"
        "with open(sys.argv[1], 'w') as log:\n"
        "    code = subprocess.run(sys.argv[2:], stdout=log, stderr=subprocess.STDOUT).returncode\n"
        "print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024, code)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe, str(log), *command], capture_output=True, text=True, cwd=REPOSITORY, check=True
    )
    seconds, peak, code = completed.stdout.split()
    if int(code) != 0:
        raise SystemExit(f"{' '.join(command)} failed ({code}): {log.read_text()[-2000:]}")
    return {"seconds": round(float(seconds), 1), "peak_rss_bytes": int(peak)}


def measure_corpus(args: argparse.Namespace, command: str) -> dict:
    finecl = [sys.executable, "-m", "finecl_hf.commands"]
    rows = []
    with tempfile.TemporaryDirectory(dir=args.work_dir) as work:
        for size in sorted(args.documents):
            folder = Path(work) / f"d{size}"
            documents, facts = write_corpus_copies(folder, size, args.fact_copies)
            row = {"documents": size}
            row["convert"] = run_measured(
                [*finecl, "convert", "docred", "--source", f"train={documents}", "--output", str(folder / "converted")],
                folder / "convert.log",
            )
            row["label"] = run_measured(
                [*finecl, "convert", "distant-supervision", "--source", f"train={documents}", "--facts", str(facts),
                 "--output", str(folder / "distant")], folder / "label.log",
            )  # fmt: skip
            if size <= args.stage1_max_documents:
                row["stage1"] = run_measured(
                    [*finecl, "learning-order", "--dataset_path", str(folder / "converted"), "--recipe", "tuned",
                     "--max_steps", "2", "--output_dir", str(folder / "stage1"), "--report_to", "none",
                     "--save_strategy", "no", "--use_cpu"], folder / "stage1.log",
                )  # fmt: skip
                row["stage1"]["score_seconds"] = _score_seconds(folder / "stage1" / "learning_order")
                row["analyse"] = run_measured(
                    [*finecl, "analyse", str(folder / "stage1" / "learning_order")], folder / "analyse.log"
                )
            rows.append(row)
            print(json.dumps(row), flush=True)
            summary = corpus_summary(rows, command)
            (args.results_dir / "scale_corpus.json").write_text(json.dumps(summary, indent=1))
            (args.results_dir / "scale_corpus.md").write_text(corpus_markdown(summary))
            shutil.rmtree(folder)
    return summary


def _score_seconds(learning_order: Path) -> dict:
    from finecl_hf.cards import read_dataset_card_metadata

    try:
        return read_dataset_card_metadata(learning_order).get("score_seconds") or {}
    except (OSError, ValueError):
        return {}


def corpus_summary(rows: list[dict], command: str) -> dict:
    growth = {}
    for component in CORPUS_COMPONENTS:
        measured = [row for row in rows if component in row]
        growth[component] = growth_exponents(
            [row["documents"] for row in measured], [row[component]["seconds"] for row in measured]
        )
    return {"command": command, "rows": rows, "growth": growth}


def corpus_markdown(summary: dict) -> str:
    rows = summary["rows"]
    lines = [
        "# Data path and stage 1 at scale (copies of the shipped Re-DocRED documents)", "",
        f"Command: `{summary['command']}`", "",
        "Wall seconds / peak RSS (GB) of each command, this machine (2 cores).", "",
        "| component | " + " | ".join(f"{row['documents']:,} documents" for row in rows) + " | growth (two largest) | growth (all) |",
        "|---|" + "---|" * (len(rows) + 2),
    ]  # fmt: skip
    for component in CORPUS_COMPONENTS:
        cells = [
            f"{row[component]['seconds']:.1f} s / {row[component]['peak_rss_bytes'] / 1e9:.2f} GB" if component in row else "–"
            for row in rows
        ]
        growth = summary["growth"][component]
        lines.append(f"| `{component}` | " + " | ".join(cells) + f" | n^{growth['largest_two']} | n^{growth['all']} |")
    return "\n".join(lines) + "\n"


def neighbour_recall(evidence, queries: int = 1000) -> float:
    """Share of the exact k nearest neighbours (exhaustive search) that the index's candidates hold, over a seeded
    sample of instances: 1.0 for the exact index."""
    from finecl_hf.learning_order.neighbours import exhaustive_candidates

    candidates, k = evidence._candidates, evidence.settings.num_neighbours
    rows = np.sort(np.random.default_rng(0).choice(len(candidates.ids), min(queries, len(candidates.ids)), replace=False))
    exact_ids, _ = exhaustive_candidates(candidates.standardiser, rows, k + 1)
    found = 0
    for row, exact, approximate in zip(rows, exact_ids, candidates.ids[rows]):
        nearest = [neighbour for neighbour in exact if neighbour != row][:k]
        chosen = [neighbour for neighbour in approximate if neighbour not in (row, -1)][:k]
        found += len(set(nearest) & set(chosen))
    return round(found / (k * rows.size), 4)


# ------------------------------------------------------------------------------------------------- index mode
def measure_index(args: argparse.Namespace, command: str) -> dict:
    """Exact against approximate neighbours on real features: the 500 shipped Re-DocRED documents with 50% of their
    gold triples corrupted (the denoising benchmark's `noise_0.5`, seed 0), the offline MiniLM's [e_head; e_tail]
    features; the IVF index probes the same share of its lists as the default does at `--index_instances`."""
    from finecl_hf.data.conversion import SplitSource
    from finecl_hf.data.document_noise import write_noisy_corpus
    from finecl_hf.data.loading import load_dataset_folder
    from finecl_hf.learning_order.analysis import instance_correctness, mann_whitney_auc
    from finecl_hf.learning_order.evidence import CorpusEvidence, EvidenceSettings
    from finecl_hf.learning_order.neighbours import NeighbourIndexSettings
    from finecl_hf.paths import data_dir, offline_encoder_path
    from finecl_hf.representations.encoder import load_frozen_encoder
    from finecl_hf.representations.features import encode_document_instances

    with tempfile.TemporaryDirectory(dir=args.work_dir) as work:
        folder = Path(work) / "noise_0.5"
        write_noisy_corpus([SplitSource("train", data_dir() / "redocred" / "test_revised.json.gz")], folder,
                           noise_rate=0.5, rel_info_file=data_dir() / "docred" / "rel_info.json", seed=0)  # fmt: skip
        documents = load_dataset_folder(folder, split="train")
        instances = load_dataset_folder(folder, "relation_instances", split="train")
        correct, known = instance_correctness(instances, documents, "confirmed_by_gold")
        encoder = load_frozen_encoder(offline_encoder_path())
        features = encode_document_instances(encoder, instances, documents, max_length=512).features
    labels = np.asarray(instances["relation"], dtype=np.int64)
    groups = np.asarray(instances["document_index"], dtype=np.int64)
    default = NeighbourIndexSettings()
    lists = max(1, args.index_instances // default.list_size)
    settings = {
        "exact": default,
        "ivf": NeighbourIndexSettings(exact_search_max=0, list_size=max(1, len(labels) // lists), probes=default.probes),
    }
    result = {"command": command, "instances": int(labels.size), "scored": int(known.sum()),
              "probed_share": default.probes / lists, "arms": {}}  # fmt: skip
    for name, index in settings.items():
        evidence = CorpusEvidence(labels, groups, int(labels.max()) + 1, None, features,
                                  EvidenceSettings(neighbour_index=index))  # fmt: skip
        start = time.perf_counter()
        scores = evidence.neighbour_agreement()
        result["arms"][name] = {
            "seconds": round(time.perf_counter() - start, 1),
            "roc_auc": round(float(mann_whitney_auc(scores[known], correct[known])), 4),
            "recall": neighbour_recall(evidence),
        }
    result["auc_difference"] = round(result["arms"]["ivf"]["roc_auc"] - result["arms"]["exact"]["roc_auc"], 4)
    (args.results_dir / "scale_index.json").write_text(json.dumps(result, indent=1))
    return result


# ------------------------------------------------------------------------------------------------- report
def growth_exponents(sizes: list[int], seconds: list[float]) -> dict[str, float | None]:
    """log-log slope between the two largest sizes and the least-squares slope over all."""
    if len(sizes) < 2:
        return {"largest_two": None, "all": None}
    logs_n, logs_t = np.log(sizes), np.log(np.maximum(seconds, 1e-3))
    last = float((logs_t[-1] - logs_t[-2]) / (logs_n[-1] - logs_n[-2]))
    slope = float(np.polyfit(logs_n, logs_t, 1)[0])
    return {"largest_two": round(last, 3), "all": round(slope, 3)}


def report(runs: list[dict], args: argparse.Namespace, command: str) -> dict:
    sizes = [run["instances"] for run in runs]
    summary = {"command": command, "dim": args.dim, "runs": runs, "growth": {}}
    for name in (*COMPONENTS, "evidence"):
        seconds = [run["evidence_seconds"] if name == "evidence" else run["components"][name]["seconds"] for run in runs]
        summary["growth"][name] = growth_exponents(sizes, seconds)
    return summary


def markdown(summary: dict) -> str:
    runs = summary["runs"]
    header = "| component | " + " | ".join(f"n = {run['instances']:,}" for run in runs) + " | growth (two largest) | growth (all) |"
    lines = [
        f"# Evidence scores at scale (features-only, d = {summary['dim']})", "",
        f"Command: `{summary['command']}`", "",
        "Wall seconds / peak RSS (GB) / ROC-AUC against the planted truth, per score (each score's own work; "
        "`combined` is its second round, the first being the other scores).", "",
        header, "|---|" + "---|" * (len(runs) + 2),
    ]  # fmt: skip
    for name in COMPONENTS:
        cells = [
            f"{run['components'][name]['seconds']:.1f} s / {run['components'][name]['peak_rss_bytes'] / 1e9:.2f} GB / "
            f"{run['components'][name]['roc_auc']:.3f}"
            for run in runs
        ]
        growth = summary["growth"][name]
        lines.append(f"| `{name}` | " + " | ".join(cells) + f" | n^{growth['largest_two']} | n^{growth['all']} |")
    growth = summary["growth"]["evidence"]
    lines.append(
        "| **all scores** | " + " | ".join(f"**{run['evidence_seconds']:.0f} s / {run['peak_rss_bytes'] / 1e9:.2f} GB**" for run in runs)
        + f" | n^{growth['largest_two']} | n^{growth['all']} |"
    )
    lines += ["", "Neighbour search (recall@k of the k neighbours used against an exhaustive search, 1,000 sampled "
              "instances): " + ", ".join(
        f"n = {run['instances']:,} {'exact' if run['exact_search'] else 'IVF'} ({run.get('neighbour_recall', '–')})"
        for run in runs) + "."]  # fmt: skip
    return "\n".join(lines) + "\n"


def plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [run["instances"] for run in summary["runs"]]
    figure, axis = plt.subplots(figsize=(6.5, 4.5))
    for name in COMPONENTS:
        axis.plot(sizes, [run["components"][name]["seconds"] for run in summary["runs"]], "o-", label=name)
    axis.plot(sizes, [run["evidence_seconds"] for run in summary["runs"]], "k^-", label="all scores")
    reference = np.array(sizes, dtype=float)
    last = summary["runs"][0]["evidence_seconds"]
    axis.plot(sizes, last * reference / reference[0], "k:", alpha=0.5, label="linear from the smallest")
    axis.set_xscale("log"), axis.set_yscale("log")
    axis.set_xlabel("instances"), axis.set_ylabel("wall seconds")
    axis.set_title(f"Evidence scores, planted features (d = {summary['dim']}), 2 CPU cores")
    axis.legend(fontsize=8), axis.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


# ------------------------------------------------------------------------------------------------- command line
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=["features", "corpus", "index"], default="features")
    parser.add_argument("--index_instances", type=int, default=1_500_000,
                        help="Index mode: probe the share of lists the default probes at this many instances.")
    parser.add_argument("--documents", type=int, nargs="+", default=[500, 2_000, 5_000, 50_000], help="Corpus mode sizes.")
    parser.add_argument("--stage1_max_documents", type=int, default=2_000, help="Corpus mode: stage 1 up to this size.")
    parser.add_argument("--fact_copies", type=int, default=10, help="Corpus mode: fact list size, in DocRED's.")
    parser.add_argument("--sizes", type=int, nargs="+", default=[30_000, 300_000, 1_500_000])
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--relations", type=int, default=96)
    parser.add_argument("--clusters_per_relation", type=int, default=3)
    parser.add_argument("--cluster_scale", type=float, default=0.6)
    parser.add_argument("--latent_dim", type=int, default=48)
    parser.add_argument("--isotropic_noise", type=float, default=0.3)
    parser.add_argument("--instances_per_document", type=int, default=15)
    parser.add_argument("--noise", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work_dir", type=Path, default=None, help="Where the planted features go (default: a temp dir).")
    parser.add_argument("--results_dir", type=Path, default=REPOSITORY / "docs" / "results" / "scale")
    parser.add_argument("--gpu", action="store_true", help="Measure on the accelerator (refused: none here).")
    parser.add_argument("--measure", type=Path, nargs=2, help=argparse.SUPPRESS)  # child: corpus folder, result file
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.measure:
        measure(*args.measure)
        return 0
    if args.gpu:
        print("bench_scale.py: error: --gpu needs an accelerator; none is available here.", file=sys.stderr)
        return 2
    args.results_dir.mkdir(parents=True, exist_ok=True)
    command = "python benchmarks/bench_scale.py " + " ".join(sys.argv[1:] if argv is None else argv)
    if args.mode == "corpus":
        print(corpus_markdown(measure_corpus(args, command)))
        return 0
    if args.mode == "index":
        print(json.dumps(measure_index(args, command), indent=1))
        return 0
    runs = []
    with tempfile.TemporaryDirectory(dir=args.work_dir) as work:
        for size in sorted(args.sizes):
            folder = write_planted_corpus(Path(work) / f"n{size}", size, args.dim, args)
            result_file = folder / "result.json"
            print(f"n = {size:,}: measuring ...", flush=True)
            subprocess.run(
                [sys.executable, __file__, "--measure", str(folder), str(result_file)], check=True, cwd=REPOSITORY
            )
            runs.append(json.loads(result_file.read_text()))
            (folder / "features.npy").unlink()
            print(json.dumps(runs[-1], indent=1), flush=True)
            summary = report(runs, args, command)  # written after every size: a long run keeps what it measured
            (args.results_dir / "scale_features.json").write_text(json.dumps(summary, indent=1))
            (args.results_dir / "scale_features.md").write_text(markdown(summary))
    plot(summary, args.results_dir / "scale_features.png")
    print(markdown(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
