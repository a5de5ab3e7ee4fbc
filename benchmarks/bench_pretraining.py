#!/usr/bin/env python
"""Benchmarks of FineCL pre-training (stage 2). Prints numbers; asserts nothing.

    python benchmarks/bench_pretraining.py                 # CPU: step-time overhead + peak memory 10k vs 100k docs
    python benchmarks/bench_pretraining.py --skip-memory   # CPU step time only
    python benchmarks/bench_pretraining.py --gpu           # GPU: roberta-base-sized encoder, bf16, tokens/s and MFU

1. Step time (same run, same batches, interleaved, medians): a FineCL step (reading the documents, collation with
   sampling and MLM masking, forward with the ED/RD/MLM losses, backward) against the encoder's forward and backward
   passes alone on the same RD and ED inputs (loss = sum of the last hidden states), and against the encoder plus the
   MLM head (plain MLM pre-training on the same inputs). Target: FineCL / encoder ≤ 1.10.
2. Peak memory while preparing pre-training data (load, tokenize, index, one epoch of pairs, 20 batches) from a
   synthetic learning-order dataset of 10k and of 100k documents, each in a fresh process. Reported: the peak of live
   allocations (Python objects and NumPy arrays via tracemalloc, plus Arrow's memory pool), the size of the
   relation-instance index (the only part meant to grow with the corpus), the peak resident anonymous memory (which
   also counts what malloc/mimalloc keep after freeing) and the file-backed pages of the memory-mapped Arrow files
   (reclaimable page cache). `load_dataset`'s one-time Parquet -> Arrow conversion runs first in its own process and
   is reported apart.
3. `--gpu` (needs CUDA; no hub access needed): a roberta-base-sized encoder built from its config with random weights,
   bf16 autocast, synthetic 512-token documents (16 per micro-batch as in the original code); tokens/s, model FLOP
   utilisation against the GPU's dense bf16 peak, and the projected time of the paper's 6,000 steps × 768 documents.
   Only `torch`, `transformers`, `tokenizers` and `numpy` are needed there (not `datasets`).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

# Dense bf16 peak (TFLOP/s) by GPU name, for model FLOP utilisation.
PEAK_BF16_TFLOPS = {"H100": 989.4, "H200": 989.4, "A100": 312.0, "L40S": 362.0, "A10G": 70.0}
PAPER_STEPS, PAPER_DOCUMENTS_PER_STEP = 6000, 768


# ----------------------------------------------------------------------------------------------------------------------
# 1. Step time on CPU


def bench_step_time(num_documents: int, batch_size: int, repeats: int, sentences: tuple[int, int]) -> None:
    from transformers import AutoTokenizer

    from finecl_hf import FineCLForPreTraining
    from finecl_hf.paths import offline_encoder_path
    from finecl_hf.pretraining import FineCLPreTrainingCollator, prepare_pretraining_data
    from finecl_hf.pretraining.synthetic import write_synthetic_learning_order_dataset

    encoder_path = offline_encoder_path()
    tokenizer = AutoTokenizer.from_pretrained(encoder_path)
    with tempfile.TemporaryDirectory() as workspace:
        folder = write_synthetic_learning_order_dataset(
            Path(workspace) / "lo", num_documents, seed=0, sentences=sentences
        )
        data = prepare_pretraining_data(
            str(folder), tokenizer, max_length=512, cache_dir=str(Path(workspace) / "cache")
        )
        model = FineCLForPreTraining.from_backbone(encoder_path, **data.learned_epoch_config())
        collator = FineCLPreTrainingCollator(tokenizer, data.relation_names(), data.index.no_relation_id, seed=0)
        order = list(data.sampler(seed=0))
        batches = [order[start : start + batch_size] for start in range(0, len(order) - batch_size + 1, batch_size)]
        timings = {"collation": [], "finecl": [], "encoder": [], "encoder_mlm": []}
        tokens = []
        for repeat in range(repeats + 1):  # the first round warms up
            documents = batches[repeat % len(batches)]
            start = time.perf_counter()
            batch = collator([data.dataset[i] for i in documents])
            collated = time.perf_counter()
            model(**batch).loss.backward()
            finecl = time.perf_counter()
            model.zero_grad(set_to_none=True)
            encoder_time = _time_encoder_only(model, batch, with_mlm_head=False)
            encoder_mlm_time = _time_encoder_only(model, batch, with_mlm_head=True)
            if repeat:
                timings["collation"].append(collated - start)
                timings["finecl"].append(finecl - start)
                timings["encoder"].append(encoder_time)
                timings["encoder_mlm"].append(encoder_mlm_time)
                tokens.append(int(batch["attention_mask"].sum() + batch["ed_attention_mask"].sum()))
    median = {name: statistics.median(values) for name, values in timings.items()}
    print(
        f"\n== Step time (CPU, {torch.get_num_threads()} threads, offline MiniLM-L6, {batch_size} documents per batch, "
        f"~{statistics.mean(tokens):.0f} RD+ED tokens, median of {repeats}) =="
    )
    print(f"collation (read + sample + mask + ED prefix): {median['collation'] * 1e3:8.1f} ms")
    print(f"FineCL step (collation + fwd + bwd):          {median['finecl'] * 1e3:8.1f} ms")
    print(f"encoder fwd + bwd alone:                      {median['encoder'] * 1e3:8.1f} ms")
    print(f"encoder + MLM head fwd + bwd:                 {median['encoder_mlm'] * 1e3:8.1f} ms")
    print(f"FineCL / encoder alone:          {median['finecl'] / median['encoder']:.3f}x   (target <= 1.10)")
    print(
        f"FineCL / encoder + MLM head:     {median['finecl'] / median['encoder_mlm']:.3f}x   "
        "(cost of ED/RD losses, sampling and collation over plain MLM)"
    )


def _time_encoder_only(model, batch: dict, with_mlm_head: bool) -> float:
    """Forward + backward of the encoder on the RD and ED inputs of `batch` (optionally + the MLM head)."""
    start = time.perf_counter()
    hidden = model.encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    ed_inputs = {"input_ids": batch["ed_input_ids"], "attention_mask": batch["ed_attention_mask"]}
    if "ed_token_type_ids" in batch:
        ed_inputs["token_type_ids"] = batch["ed_token_type_ids"]
    ed_hidden = model.encoder(**ed_inputs).last_hidden_state
    loss = hidden.float().sum() + ed_hidden.float().sum()
    if with_mlm_head:
        masked = batch["labels"] != -100
        loss = loss + torch.nn.functional.cross_entropy(model.lm_head(hidden[masked]).float(), batch["labels"][masked])
    loss.backward()
    model.zero_grad(set_to_none=True)
    if torch.cuda.is_available() and hidden.is_cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - start


# ----------------------------------------------------------------------------------------------------------------------
# 2. Peak memory of data preparation, 10k vs 100k documents


class _MemorySampler:
    """Peak anonymous and file-backed resident memory of this process, sampled from /proc every 20 ms."""

    def __init__(self):
        self.peak_anonymous = self.peak_file = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _read(self) -> tuple[int, int]:
        values = {}
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(("RssAnon:", "RssFile:", "RssShmem:")):
                    key, amount, _ = line.split()
                    values[key] = int(amount) * 1024
        return values.get("RssAnon:", 0), values.get("RssFile:", 0) + values.get("RssShmem:", 0)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            time.sleep(0.02)

    def sample(self) -> None:
        anonymous, file_backed = self._read()
        self.peak_anonymous = max(self.peak_anonymous, anonymous)
        self.peak_file = max(self.peak_file, file_backed)

    def __enter__(self) -> _MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


def _convert_in_child(folder: str, cache_dir: str, results) -> None:
    """`load_dataset`'s one-time Parquet -> Arrow conversion of both configs, measured on its own."""
    import tracemalloc

    import pyarrow as pa

    from finecl_hf.data.learning_order import load_learning_order_dataset

    tracemalloc.start()
    load_learning_order_dataset(folder, cache_dir=cache_dir)
    results.put({"peak_live": tracemalloc.get_traced_memory()[1] + pa.default_memory_pool().max_memory()})


def _prepare_in_child(folder: str, cache_dir: str, results) -> None:
    import tracemalloc

    import pyarrow as pa
    from transformers import AutoTokenizer

    from finecl_hf.paths import offline_encoder_path
    from finecl_hf.pretraining import FineCLPreTrainingCollator, prepare_pretraining_data

    tokenizer = AutoTokenizer.from_pretrained(offline_encoder_path())
    baseline = _MemorySampler()
    baseline.sample()
    start = time.perf_counter()
    tracemalloc.start()  # Python objects and NumPy arrays (NumPy reports its buffers to tracemalloc)
    with _MemorySampler() as memory:
        data = prepare_pretraining_data(folder, tokenizer, max_length=512, cache_dir=cache_dir)
        collator = FineCLPreTrainingCollator(tokenizer, data.relation_names(), data.index.no_relation_id, seed=0)
        order = data.sampler(seed=0).pairs().ravel()
        for batch in range(20):
            collator([data.dataset[int(i)] for i in order[batch * 16 : (batch + 1) * 16]])
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    results.put(
        {
            "seconds": time.perf_counter() - start,
            "baseline_anonymous": baseline.peak_anonymous,
            "peak_anonymous": memory.peak_anonymous,
            "peak_file": memory.peak_file,
            "peak_live": traced_peak + pa.default_memory_pool().max_memory(),
            "index_bytes": data.index.nbytes,
            "instances": data.index.num_instances,
        }
    )


def _run_in_child(context, target, *args) -> dict:
    results = context.Queue()
    child = context.Process(target=target, args=(*args, results))
    child.start()
    row = results.get()
    child.join()
    return row


def bench_memory(sizes: list[int]) -> None:
    from finecl_hf.pretraining.synthetic import write_synthetic_learning_order_dataset

    context = multiprocessing.get_context("spawn")
    rows = []
    with tempfile.TemporaryDirectory() as workspace:
        for size in sizes:
            folder = Path(workspace) / f"lo-{size}"
            write_synthetic_learning_order_dataset(folder, size, seed=0)
            cache_dir = str(Path(workspace) / f"cache-{size}")
            conversion = _run_in_child(context, _convert_in_child, str(folder), cache_dir)
            row = _run_in_child(context, _prepare_in_child, str(folder), cache_dir)
            rows.append((size, conversion["peak_live"], row))
    mib = 2**20
    print("\n== Peak memory while preparing pre-training data (fresh process per size, MiniLM tokenizer) ==")
    print("live = peak of Python objects + NumPy arrays (tracemalloc) + Arrow's memory pool; anon = resident anonymous")
    print("memory, which also holds what the allocators keep after freeing; file-backed = memory-mapped Arrow pages.")
    print("The first load_dataset converts the Parquet files to an Arrow cache once; its peak is measured apart.")
    print(
        f"{'documents':>10} {'instances':>10} {'prepare s':>10} {'live MiB':>9} {'index MiB':>9} {'live-index':>10} "
        f"{'anon MiB':>9} {'of it imports':>13} {'file-backed MiB':>15} {'conversion MiB':>14}"
    )
    for size, conversion, row in rows:
        print(
            f"{size:>10} {row['instances']:>10} {row['seconds']:>10.1f} {row['peak_live'] / mib:>9.1f} "
            f"{row['index_bytes'] / mib:>9.1f} {(row['peak_live'] - row['index_bytes']) / mib:>10.1f} "
            f"{row['peak_anonymous'] / mib:>9.1f} {row['baseline_anonymous'] / mib:>13.1f} "
            f"{row['peak_file'] / mib:>15.1f} {conversion / mib:>14.1f}"
        )
    if len(rows) >= 2:
        (small, _, first), (large, _, last) = rows[0], rows[-1]
        print(
            f"from {small} to {large} documents: live peak +{(last['peak_live'] - first['peak_live']) / mib:.1f} MiB, "
            f"index +{(last['index_bytes'] - first['index_bytes']) / mib:.1f} MiB, anonymous resident "
            f"+{(last['peak_anonymous'] - first['peak_anonymous']) / mib:.1f} MiB"
        )


# ----------------------------------------------------------------------------------------------------------------------
# 3. GPU throughput


def synthetic_features(num_documents: int, length: int, vocab_size: int, rng: np.random.Generator) -> list[dict]:
    """Dataset-free pre-training examples: random token ids with 10-20 entities of 1-3 mentions and DocRED-like
    relation instances (4-12 positives over 96 relations, up to 3x as many no-relation pairs)."""
    features = []
    for document in range(num_documents):
        input_ids = rng.integers(5, vocab_size, length)
        input_ids[0], input_ids[-1] = 0, 2
        num_entities = int(rng.integers(10, 21))
        slots = rng.permutation(np.arange(1, length - 5, 6))[: num_entities * 3]
        mention_entities = np.concatenate([np.arange(num_entities), rng.integers(0, num_entities, 2 * num_entities)])
        order = np.argsort(slots)
        starts = slots[order]
        ends = starts + rng.integers(1, 5, starts.shape[0])
        num_positive = int(rng.integers(4, 13))
        heads = rng.integers(0, num_entities, 4 * num_positive)
        tails = (heads + rng.integers(1, num_entities, heads.shape[0])) % num_entities
        relations = np.concatenate(
            [rng.zipf(1.5, num_positive).clip(max=96), np.zeros(3 * num_positive, dtype=np.int64)]
        )
        features.append(
            {
                "document_index": document,
                "input_ids": input_ids,
                "mention_starts": starts,
                "mention_ends": ends,
                "mention_entities": mention_entities[order],
                "instance_heads": heads,
                "instance_tails": tails,
                "instance_relations": relations,
                "instance_learned_epochs": rng.integers(-1, 15, heads.shape[0]),
            }
        )
    return features


def bench_gpu(device: str, batch_size: int, steps: int, encoder_size: str, peak_tflops: float | None) -> None:
    import tempfile as _tempfile

    from transformers import AutoTokenizer, RobertaConfig

    from finecl_hf import FineCLConfig, FineCLForPreTraining
    from finecl_hf.pretraining.data_collator import FineCLPreTrainingCollator
    from finecl_hf.pretraining.synthetic import save_tiny_roberta

    sizes = {
        "base": {},
        "tiny": {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128},
    }
    encoder_config = RobertaConfig(
        vocab_size=50265,
        max_position_embeddings=514,
        type_vocab_size=1,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        **sizes[encoder_size],
    )
    config = FineCLConfig(encoder=encoder_config, min_learned_epoch=0, max_learned_epoch=14)
    model = FineCLForPreTraining(config).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-5, weight_decay=1e-5, fused=device == "cuda")
    with _tempfile.TemporaryDirectory() as workspace:
        tokenizer = AutoTokenizer.from_pretrained(save_tiny_roberta(workspace))  # special tokens only
    relation_names = ["no_relation"] + [f"relation {i}" for i in range(1, 97)]
    collator = FineCLPreTrainingCollator(tokenizer, relation_names, 0, pad_to_multiple_of=8, seed=0)
    rng = np.random.default_rng(0)
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    timings = {"collation": [], "finecl": [], "encoder": [], "optimizer": []}
    tokens = masked = 0
    for step in range(steps + 3):  # 3 warm-up steps
        features = synthetic_features(batch_size, 512, encoder_config.vocab_size, rng)
        start = time.perf_counter()
        batch = collator(features)
        collated = time.perf_counter()
        batch = {name: value.to(device, non_blocking=True) for name, value in batch.items()}
        _synchronize(device)
        begin = time.perf_counter()
        with torch.autocast(device_type=device, dtype=dtype, enabled=device == "cuda"):
            loss = model(**batch).loss
        loss.backward()
        _synchronize(device)
        finecl = time.perf_counter()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        _synchronize(device)
        stepped = time.perf_counter()
        with torch.autocast(device_type=device, dtype=dtype, enabled=device == "cuda"):
            encoder_time = _time_encoder_only(model, batch, with_mlm_head=False)
        if step >= 3:
            timings["collation"].append(collated - start)
            timings["finecl"].append(finecl - begin)
            timings["optimizer"].append(stepped - finecl)
            timings["encoder"].append(encoder_time)
            tokens += int(batch["attention_mask"].sum() + batch["ed_attention_mask"].sum())
            masked += int((batch["labels"] != -100).sum())
    median = {name: statistics.median(values) for name, values in timings.items()}
    tokens_per_step, masked_per_step = tokens / steps, masked / steps
    flops = _training_flops(encoder_config, tokens_per_step, masked_per_step, sequence_length=512)
    step_seconds = median["finecl"]
    name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    peak = peak_tflops or next((value for key, value in PEAK_BF16_TFLOPS.items() if key in name), None)
    micro_batches = PAPER_DOCUMENTS_PER_STEP / batch_size
    projected = PAPER_STEPS * (micro_batches * step_seconds + median["optimizer"])
    print(
        f"\n== FineCL pre-training throughput ({name}, {encoder_size} encoder, "
        f"{'bf16' if device == 'cuda' else 'fp32'}, "
        f"{batch_size} documents × 512 tokens per micro-batch, median of {steps}) =="
    )
    print(
        f"micro-batch fwd+bwd: {step_seconds * 1e3:.1f} ms; encoder alone: {median['encoder'] * 1e3:.1f} ms "
        f"(ratio {step_seconds / median['encoder']:.3f}); optimizer step {median['optimizer'] * 1e3:.1f} ms; "
        f"collation on CPU {median['collation'] * 1e3:.1f} ms (runs in data-loader workers)"
    )
    print(f"tokens/s (RD + ED inputs): {tokens_per_step / step_seconds:,.0f}")
    print(f"model FLOPs per micro-batch: {flops / 1e12:.2f} TFLOP -> {flops / step_seconds / 1e12:.1f} TFLOP/s", end="")
    print(
        f"; MFU {flops / step_seconds / (peak * 1e12):.1%} of {peak} TFLOP/s"
        if peak
        else " (peak unknown: --peak-tflops)"
    )
    print(
        f"projected {PAPER_STEPS} steps × {PAPER_DOCUMENTS_PER_STEP} documents on this one device: "
        f"{projected / 3600:.1f} h (paper: 3 × V100)"
    )
    if device == "cuda":
        print(f"peak GPU memory: {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")


def _training_flops(config, tokens: float, masked_tokens: float, sequence_length: int) -> float:
    """Forward + backward FLOPs: 6 × non-embedding parameters × tokens, attention scores and values
    (12 × layers × hidden × sequence length per token), and the MLM head on the masked tokens."""
    hidden, layers = config.hidden_size, config.num_hidden_layers
    layer_parameters = 4 * hidden * hidden + 2 * hidden * config.intermediate_size
    encoder = 6 * layers * layer_parameters * tokens + 12 * layers * hidden * sequence_length * tokens
    mlm_head = 6 * (hidden * hidden + hidden * config.vocab_size) * masked_tokens
    return encoder + mlm_head


def _synchronize(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


# ----------------------------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gpu", action="store_true", help="Run the GPU throughput benchmark instead (needs CUDA).")
    parser.add_argument("--device", default=None, help="Device of the throughput benchmark (default: cuda).")
    parser.add_argument("--encoder-size", choices=["base", "tiny"], default="base", help="Throughput encoder size.")
    parser.add_argument("--peak-tflops", type=float, default=None, help="Dense bf16 peak of an unlisted GPU.")
    parser.add_argument("--batch-size", type=int, default=None, help="Documents per micro-batch (CPU 4, GPU 16).")
    parser.add_argument("--repeats", type=int, default=None, help="Timed steps (CPU 6, GPU 20).")
    parser.add_argument("--skip-memory", action="store_true", help="Skip the 10k/100k-document memory benchmark.")
    parser.add_argument("--skip-step-time", action="store_true", help="Skip the CPU step-time benchmark.")
    parser.add_argument("--memory-sizes", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    if args.gpu or args.device:
        device = args.device or "cuda"
        if device == "cuda" and not torch.cuda.is_available():
            sys.exit("--gpu needs a CUDA device.")
        bench_gpu(device, args.batch_size or 16, args.repeats or 20, args.encoder_size, args.peak_tflops)
        return
    if not args.skip_step_time:
        bench_step_time(
            num_documents=64, batch_size=args.batch_size or 4, repeats=args.repeats or 6, sentences=(10, 18)
        )
    if not args.skip_memory:
        bench_memory(args.memory_sizes)


if __name__ == "__main__":
    main()
