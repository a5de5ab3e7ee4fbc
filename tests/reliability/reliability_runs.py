"""What the reliability suite builds and runs: tiny corpora in the source formats, and each stage's command line.

Shared by `conftest.py` (which turns them into session fixtures) and the tests that repeat a run (kill and resume,
determinism). Corpora are made so that a tiny model can learn something (a cue word per label) in a few steps.
"""

from __future__ import annotations

import random
from pathlib import Path

from reliability_helpers import run_cli, single_thread

FILLER = "the a of in and to was is for on with by as at from that album film city river born released".split()
PLACES = "Paris Berlin France Germany Lima Peru Cairo Egypt Rome Italy Oslo Norway Tokyo Japan Madrid Spain".split()
SEMEVAL_CUES = {"Other": "near", "Cause-Effect(e1,e2)": "caused", "Component-Whole(e2,e1)": "inside"}
DOCRED_RELATIONS = {"P17": "country", "P131": "located in the administrative territorial entity"}


def semeval_text(num_records: int, seed: int = 0) -> str:
    """SemEval-2010 Task 8 records whose label is signalled by a cue word (so a tiny model can learn it)."""
    rng = random.Random(seed)
    records = []
    for index in range(num_records):
        label = list(SEMEVAL_CUES)[index % len(SEMEVAL_CUES)]
        words = [rng.choice(FILLER) for _ in range(6)]
        sentence = (
            f"The <e1>{words[0]}</e1> {words[1]} {SEMEVAL_CUES[label]} {words[2]} <e2>{words[3]}</e2> {words[4]} ."
        )
        records.append(f'{index + 1}\t"{sentence}"\n{label}\nComment:\n\n')
    return "".join(records)


def docred_documents(num_documents: int, seed: int = 0) -> list[dict]:
    """DocRED-format documents: 3 sentences, 4 single-mention entities, 2 labelled triples each."""
    rng = random.Random(seed)
    documents = []
    for position in range(num_documents):
        sents = [[rng.choice(FILLER) for _ in range(8)] for _ in range(3)]
        vertex_set = []
        for entity in range(4):
            sent_id, start = entity % 3, 2 * entity
            name = PLACES[(position + 3 * entity) % len(PLACES)]
            sents[sent_id][start] = name
            vertex_set.append([{"name": name, "pos": [start, start + 1], "sent_id": sent_id, "type": "LOC"}])
        labels = [
            {"h": 0, "t": 1, "r": "P17", "evidence": [0]},
            {"h": 2, "t": 3, "r": "P131" if position % 2 else "P17", "evidence": [2]},
        ]
        documents.append({"title": f"Document {position}", "sents": sents, "vertexSet": vertex_set, "labels": labels})
    return documents


# ----------------------------------------------------------------------------------------------- stage command lines


def stage1_arguments(documents: Path, backbone: Path, output_dir: Path) -> list[str]:
    """Stage 1 on relation instances of documents: 3 epochs of 12 steps, a checkpoint every 5 steps."""
    return [
        "--dataset_path", str(documents), "--model_name_or_path", str(backbone), "--output_dir", str(output_dir),
        "--use_cpu", "--report_to", "none", "--disable_tqdm", "true", "--seed", "7", "--num_train_epochs", "3",
        "--per_device_train_batch_size", "8", "--learning_rate", "3e-3", "--max_length", "64",
        "--save_strategy", "steps", "--save_steps", "5", "--save_total_limit", "2", "--logging_steps", "5",
        "--upsample_min_percent", "50",
    ]  # fmt: skip


def stage2_arguments(learning_order: Path, backbone: Path, output_dir: Path, cache: Path) -> list[str]:
    """Stage 2: 6 optimizer steps of 4 documents, a checkpoint every 2 steps, a log line every step."""
    return [
        "--learning_order_dataset", str(learning_order), "--model_name_or_path", str(backbone),
        "--output_dir", str(output_dir), "--dataset_cache_dir", str(cache), "--use_cpu", "--report_to", "none",
        "--disable_tqdm", "true", "--seed", "5", "--max_steps", "6", "--per_device_train_batch_size", "4",
        "--total_batch_size", "0", "--max_length", "96", "--num_negatives", "8", "--learning_rate", "1e-3",
        "--warmup_steps", "2", "--save_strategy", "steps", "--save_steps", "2", "--logging_steps", "1",
    ]  # fmt: skip


def stage3_arguments(sentences: Path, backbone: Path, output_dir: Path) -> list[str]:
    """Stage 3 on sentences: 6 optimizer steps of 8 sentences, a checkpoint every 2 steps, checkpoints kept."""
    return [
        "--model_name_or_path", str(backbone), "--dataset_path", str(sentences), "--output_dir", str(output_dir),
        "--recipe", "none", "--use_cpu", "--report_to", "none", "--disable_tqdm", "true", "--seed", "3",
        "--max_steps", "6", "--per_device_train_batch_size", "8", "--learning_rate", "1e-3", "--warmup_steps", "1",
        "--max_length", "32", "--eval_strategy", "no", "--save_strategy", "steps", "--save_steps", "2",
        "--logging_steps", "1", "--keep_checkpoints",
    ]  # fmt: skip


def run_stage(script: str, arguments: list[str]) -> None:
    """Run a stage CLI to completion in this process, on one thread (as the kill tests' children run)."""
    with single_thread():
        outcome = run_cli(script, arguments)
    assert outcome.returncode == 0, outcome.describe()
