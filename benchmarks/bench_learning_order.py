"""Overhead of learning-order recording.

1. Seconds per training step of `LearningOrderTrainer` (batch mode) vs a plain `Trainer` on the same model, the same
   batches and the same seed, measured in the same run, alternating the two (target: ratio <= 1.03).
2. The epoch-mode extra pass (eval mode, no grad, length-sorted batches) vs one training epoch (target: <= 0.40).
3. With `--documents N`: the cost of one stage-1 epoch over the first N Re-DocRED documents (gold triples + sampled
   no-relation pairs, the densely labelled case) against the floor, one forward+backward per document (a plain
   `Trainer` on one pair per document, `--documents_per_batch` documents per step), measured side by side in one run:
   per-instance batches (`--batch_size` instances, grouped by document: the default) and document batches
   (`documents_per_batch`, all instances of those documents per step). Target: document batches <= 1.2x the floor.

Data: the first `--num_sentences` SemEval-2010 training sentences; model: the offline MiniLM (`--model_name_or_path`
to change). Step times are taken between `on_step_begin` and `on_step_end` (forward, backward, optimizer step,
recording), after `--warmup_steps` untimed steps; the median over steps and repeats is reported. On a GPU the clock is
wall time (CUDA-synchronised); on a CPU it is this process's CPU time (`--clock cpu`, the default there), which other
jobs sharing the machine do not inflate. The time spent in the recording itself (`LearningOrderTrainer._record`:
argmax, comparison, gather, state update) is also reported, as a share of the step.

```bash
python benchmarks/bench_learning_order.py --num_sentences 512 --steps 12 --repeats 3
python benchmarks/bench_learning_order.py --skip_recording --skip_epoch_pass --documents 24 --documents_per_batch 4
```

Last measured (2026-11-29, shared 2-core CPU, `--threads 1`, CPU clock, MiniLM): item 1 with the training-dynamics
statistics recorded, 0.975 (plain 1.5075 s/step, learning order 1.4695 s/step, 36 timed steps each; the per-repeat
medians spread 1.455-1.530, so the ratio is within noise), recording alone 0.66 ms/step = 0.04% of a step. Item 3 on
24 Re-DocRED documents (2,564 instances, 107 per document, max_length 512): floor 9.57 s/epoch, per-instance batches
of 32 34.11 s/epoch (3.57x), document batches of 4 documents 9.74 s/epoch (1.02x).

"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch
from transformers import Trainer, TrainerCallback, TrainingArguments, set_seed

from finecl_hf import FineCLForRelationExtraction
from finecl_hf.learning_order import LearningOrderTrainer, LearningOrderTrainingArguments
from finecl_hf.learning_order.sentence_data import load_semeval_split, sentence_collator
from finecl_hf.paths import offline_encoder_path


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def now(clock: str) -> float:
    if clock == "wall" and torch.cuda.is_available():
        torch.cuda.synchronize()
    return CLOCKS[clock]()


class StepTimer(TrainerCallback):
    """Seconds of every optimizer step after the first `warmup` ones."""

    def __init__(self, warmup: int, clock: str):
        self.warmup = warmup
        self.clock = clock
        self.seconds: list[float] = []
        self._start = 0.0

    def on_step_begin(self, args, state, control, **kwargs):
        self._start = now(self.clock)

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step > self.warmup:
            self.seconds.append(now(self.clock) - self._start)


def time_recording(trainer: LearningOrderTrainer, clock: str) -> list[float]:
    """Wrap `trainer._record` so that each call's duration is appended to the returned list."""
    seconds: list[float] = []
    record = trainer._record

    def timed(*args, **kwargs):
        start = now(clock)
        record(*args, **kwargs)
        seconds.append(now(clock) - start)

    trainer._record = timed
    return seconds


def build_model(model_path: str, num_labels: int, seed: int) -> FineCLForRelationExtraction:
    set_seed(seed)
    return FineCLForRelationExtraction.from_backbone(model_path, num_labels=num_labels, relation_level="sentence")


def time_training(
    kind: str, model_path: str, dataset, collator, num_labels: int, steps: int, warmup: int, batch_size: int, clock: str
) -> tuple[list[float], list[float]]:
    """Per-step seconds of `steps` timed steps of a plain `Trainer` or a `LearningOrderTrainer`, and the seconds spent
    recording (empty for the plain `Trainer`)."""
    common = dict(
        output_dir=tempfile.mkdtemp(prefix="bench_lo_"), max_steps=steps + warmup, per_device_train_batch_size=batch_size,
        learning_rate=4e-5, seed=0, use_cpu=not torch.cuda.is_available(), dataloader_num_workers=0, save_strategy="no",
        report_to="none", disable_tqdm=True, logging_steps=10_000, remove_unused_columns=False,
    )
    timer = StepTimer(warmup, clock)
    recording: list[float] = []
    model = build_model(model_path, num_labels, seed=0)
    if kind == "plain":
        trainer = Trainer(model=model, args=TrainingArguments(**common), train_dataset=dataset, data_collator=collator,
                          callbacks=[timer])
    else:
        common.pop("remove_unused_columns")
        trainer = LearningOrderTrainer(model=model, args=LearningOrderTrainingArguments(mode="batch", **common),
                                       train_dataset=dataset, data_collator=collator, callbacks=[timer])
        recording = time_recording(trainer, clock)
    trainer.train()
    return timer.seconds, recording[warmup:]


def time_epoch_pass(
    model_path: str, dataset, collator, num_labels: int, batch_size: int, pass_batch_size: int, clock: str
) -> tuple[float, float]:
    """(seconds of one training epoch, seconds of the epoch-mode pass over the same instances)."""
    args = LearningOrderTrainingArguments(
        output_dir=tempfile.mkdtemp(prefix="bench_lo_"), mode="epoch", num_train_epochs=1,
        per_device_train_batch_size=batch_size, epoch_pass_batch_size=pass_batch_size, seed=0,
        use_cpu=not torch.cuda.is_available(), dataloader_num_workers=0, save_strategy="no", report_to="none",
        disable_tqdm=True, logging_steps=10_000,
    )
    trainer = LearningOrderTrainer(model=build_model(model_path, num_labels, 0), args=args, train_dataset=dataset,
                                   data_collator=collator)
    pass_seconds: list[float] = []
    original = trainer.run_epoch_pass

    def timed_pass(epoch: int) -> int:
        start = now(clock)
        newly_learned = original(epoch)
        pass_seconds.append(now(clock) - start)
        return newly_learned

    trainer.run_epoch_pass = timed_pass
    start = now(clock)
    trainer.train()
    total = now(clock) - start
    return total - pass_seconds[0], pass_seconds[0]


def redocred_training_data(model_path: str, num_documents: int, max_length: int):
    """(instances, collator, label names, no-relation label) for the first `num_documents` Re-DocRED documents, with
    all their gold triples and the converter's sampled no-relation pairs, tokenized as stage 1 tokenizes them."""
    from transformers import AutoTokenizer

    from finecl_hf.data.conversion import SplitSource
    from finecl_hf.data.docred import convert_docred
    from finecl_hf.learning_order import LearningOrderArguments
    from finecl_hf.learning_order.run import _tokenized_training_data, load_instances, no_relation_name
    from finecl_hf.paths import data_dir

    folder = tempfile.mkdtemp(prefix="bench_lo_redocred_")
    convert_docred([SplitSource("train", data_dir() / "redocred" / "test_revised.json.gz")], folder,
                   rel_info_file=data_dir() / "docred" / "rel_info.json", overwrite=True)
    data_args = LearningOrderArguments(dataset_path=folder, max_length=max_length)
    instances, documents = load_instances(data_args)
    documents = documents.select(range(min(num_documents, len(documents))))
    instances = instances.filter(lambda index: index < len(documents), input_columns="document_index")
    train_dataset, collator = _tokenized_training_data(instances, documents, AutoTokenizer.from_pretrained(model_path), data_args)
    label_names = list(instances.features["relation"].names)
    return train_dataset, collator, label_names, no_relation_name(label_names, None)


def time_document_epochs(
    model_path: str, num_documents: int, documents_per_batch: int, batch_size: int, max_length: int, repeats: int,
    clock: str,
) -> None:
    """Epoch cost of per-instance and document batches against the floor (see the module docstring, item 3)."""
    from finecl_hf.learning_order.run import _classifier

    dataset, collator, label_names, no_relation = redocred_training_data(model_path, num_documents, max_length)
    document_index = dataset["document_index"]
    first_of_document = sorted({document: row for row, document in reversed(list(enumerate(document_index)))}.values())
    floor_dataset = dataset.select(first_of_document)
    common = dict(
        num_train_epochs=1, learning_rate=4e-5, seed=0, use_cpu=not torch.cuda.is_available(), dataloader_num_workers=0,
        save_strategy="no", report_to="none", disable_tqdm=True, logging_steps=10_000,
    )

    def run(kind: str) -> float:
        set_seed(0)
        model = _classifier(model_path, label_names, no_relation)
        output_dir = tempfile.mkdtemp(prefix="bench_lo_")
        if kind == "floor":  # one pair per document, `documents_per_batch` documents per step: one pass each
            args = TrainingArguments(output_dir=output_dir, per_device_train_batch_size=documents_per_batch,
                                     remove_unused_columns=False, **common)
            trainer = Trainer(model=model, args=args, train_dataset=floor_dataset, data_collator=collator)
        else:
            args = LearningOrderTrainingArguments(
                output_dir=output_dir, mode="batch", per_device_train_batch_size=batch_size,
                documents_per_batch=documents_per_batch if kind == "documents" else 0, **common,
            )
            trainer = LearningOrderTrainer(model=model, args=args, train_dataset=dataset, data_collator=collator)
        start = now(clock)
        trainer.train()
        return now(clock) - start

    run("floor")  # warm-up (first-call allocations, lazy imports), not timed
    seconds: dict[str, list[float]] = {"floor": [], "instances": [], "documents": []}
    for repeat in range(repeats):
        kinds = list(seconds) if repeat % 2 == 0 else list(reversed(seconds))
        for kind in kinds:
            seconds[kind].append(run(kind))
    floor = statistics.median(seconds["floor"])
    print(f"Re-DocRED, {len(floor_dataset)} documents, {len(dataset)} instances "
          f"({len(dataset) / len(floor_dataset):.1f} per document), max_length {max_length}; clock: {clock}; "
          f"{repeats} repeat(s), median")
    print(f"floor (one forward+backward per document, {documents_per_batch} per step): {floor:.2f} s/epoch")
    for kind, label in (("instances", f"per-instance batches of {batch_size} (default)"),
                        ("documents", f"document batches of {documents_per_batch} documents")):
        value = statistics.median(seconds[kind])
        print(f"{label}: {value:.2f} s/epoch, ratio to floor {value / floor:.3f}"
              + (" (target <= 1.2)" if kind == "documents" else ""))
    for kind, values in seconds.items():
        print(f"  per-repeat, {kind}: " + ", ".join(f"{value:.2f}" for value in values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model_name_or_path", default=None)
    parser.add_argument("--num_sentences", type=int, default=512)
    parser.add_argument("--max_length", type=int, default=96)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--epoch_pass_batch_size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=12, help="timed steps per repeat")
    parser.add_argument("--warmup_steps", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip_epoch_pass", action="store_true")
    parser.add_argument("--skip_recording", action="store_true", help="skip the step-time comparison (item 1)")
    parser.add_argument("--documents", type=int, default=0, help="item 3 on the first N Re-DocRED documents (0: skip)")
    parser.add_argument("--documents_per_batch", type=int, default=4)
    parser.add_argument("--document_max_length", type=int, default=512)
    parser.add_argument("--clock", choices=sorted(CLOCKS), default=None, help="default: wall on GPU, cpu on CPU")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    clock = args.clock or ("wall" if torch.cuda.is_available() else "cpu")
    if args.threads:
        torch.set_num_threads(args.threads)

    model_path = args.model_name_or_path or offline_encoder_path()
    if not (args.skip_recording and args.skip_epoch_pass):
        dataset, tokenizer = load_semeval_split("train", model_path, args.max_length)
        dataset = dataset.select(range(min(args.num_sentences, len(dataset))))
        collator = sentence_collator(tokenizer)
        num_labels = dataset.features["relation"].num_classes
    if not args.skip_recording:
        time_recording_overhead(args, model_path, dataset, collator, num_labels, clock)
    if not args.skip_epoch_pass:
        epoch_seconds, pass_seconds = time_epoch_pass(model_path, dataset, collator, num_labels, args.batch_size,
                                                      args.epoch_pass_batch_size, clock)
        print(f"one training epoch over {len(dataset)} sentences: {epoch_seconds:.2f} s; epoch-mode pass: "
              f"{pass_seconds:.2f} s; ratio {pass_seconds / epoch_seconds:.3f} (target <= 0.40)")
    if args.documents:
        time_document_epochs(model_path, args.documents, args.documents_per_batch, args.batch_size,
                             args.document_max_length, args.repeats, clock)


def time_recording_overhead(args, model_path: str, dataset, collator, num_labels: int, clock: str) -> None:
    """Item 1: step time of LearningOrderTrainer vs a plain Trainer, alternating, in this run."""
    seconds = {"plain": [], "learning_order": []}
    per_repeat = {"plain": [], "learning_order": []}
    recording: list[float] = []
    for repeat in range(args.repeats):
        # Alternate which one runs first, so drifting machine load hits both alike.
        for kind in (("plain", "learning_order") if repeat % 2 == 0 else ("learning_order", "plain")):
            step_seconds, record_seconds = time_training(kind, model_path, dataset, collator, num_labels, args.steps,
                                                         args.warmup_steps, args.batch_size, clock)
            seconds[kind] += step_seconds
            per_repeat[kind].append(statistics.median(step_seconds))
            recording += record_seconds
    plain, recorded = statistics.median(seconds["plain"]), statistics.median(seconds["learning_order"])
    device = "cuda" if torch.cuda.is_available() else f"cpu ({torch.get_num_threads()} threads)"
    print(f"device: {device}; clock: {clock}; model: {model_path}; batch {args.batch_size}; "
          f"{len(seconds['plain'])} timed steps each")
    print(f"plain Trainer:                      {plain:.4f} s/step (median)")
    print(f"LearningOrderTrainer (batch mode):  {recorded:.4f} s/step (median)")
    print(f"ratio: {recorded / plain:.3f} (target <= 1.03)")
    # The spread between repeats of the *same* trainer is the machine's noise floor for the ratio above.
    for kind, medians in per_repeat.items():
        print(f"  per-repeat medians, {kind}: " + ", ".join(f"{value:.4f}" for value in medians))
    record = statistics.median(recording)
    print(f"recording alone: {1000 * record:.3f} ms/step (median) = {100 * record / plain:.3f}% of a plain step")


if __name__ == "__main__":
    main()
