"""The launch recipes of `trainers/pretrain.py` on CPU, and loss/gradient equality across process counts (slow).

Every run trains a tiny random RoBERTa for 2 steps of 8 documents with plain SGD (constant learning rate, no
clipping, no weight decay), so the weights after training are a linear read-out of the gradients. The single-process
run accumulates 2 micro-batches of 4 documents; each 2-process run (DDP, DeepSpeed ZeRO-2, ZeRO-3) gives one
micro-batch of 4 to each process. The same 8 documents make the same global batch, so the logged losses (total and
ED/RD/MLM) and the trained weights must match the single-process run.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from finecl_hf import FineCLForRelationExtraction
from finecl_hf.pretraining.synthetic import save_tiny_roberta, write_synthetic_learning_order_dataset

pytestmark = pytest.mark.slow

REPOSITORY = Path(__file__).resolve().parent.parent
LOGGED = ("loss", "ed_loss", "rd_loss", "mlm_loss", "rd_anchors", "grad_norm")
TWO_PROCESSES = ["--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
RECIPES = {
    "ddp": ["--multi_gpu", *TWO_PROCESSES],
    "deepspeed_zero2": ["--use_deepspeed", "--zero_stage", "2", *TWO_PROCESSES],
    "deepspeed_zero3": ["--config_file", str(REPOSITORY / "trainers/configs/deepspeed_zero3.yaml")],
}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("launch")
    tiny = save_tiny_roberta(root / "tiny")
    learning_order = write_synthetic_learning_order_dataset(root / "learning_order", num_documents=32, seed=1)
    env = os.environ | {
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "HF_DATASETS_CACHE": str(root / "hf-datasets"),
        "TOKENIZERS_PARALLELISM": "false",
        "OMP_NUM_THREADS": "1",  # 2 processes on 2 cores
        # DeepSpeed compiles a small CPU communication op on first use (~30 s); keep it with the environment.
        "TORCH_EXTENSIONS_DIR": os.environ.get("TORCH_EXTENSIONS_DIR", str(Path(sys.prefix) / "torch_extensions")),
    }
    return {"root": root, "tiny": tiny, "learning_order": learning_order, "env": env}


def script_arguments(workspace, output_dir: Path) -> list[str]:
    return [
        str(REPOSITORY / "trainers/pretrain.py"),
        "--learning_order_dataset", str(workspace["learning_order"]),
        "--model_name_or_path", str(workspace["tiny"]),
        "--output_dir", str(output_dir),
        "--use_cpu", "--report_to", "none", "--save_strategy", "no",
        "--max_steps", "2", "--logging_steps", "1",
        "--per_device_train_batch_size", "4", "--total_batch_size", "8",
        "--max_length", "96", "--num_negatives", "16", "--seed", "5",
        "--optim", "sgd", "--learning_rate", "0.01", "--lr_scheduler_type", "constant", "--warmup_steps", "0",
        "--weight_decay", "0", "--max_grad_norm", "0",
    ]  # fmt: skip


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(command: list[str], workspace, output_dir: Path) -> dict:
    result = subprocess.run(command, env=workspace["env"], cwd=REPOSITORY, capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        pytest.fail(
            f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
        )
    state = json.loads((output_dir / "trainer_state.json").read_text())
    return {
        "logs": [entry for entry in state["log_history"] if "loss" in entry],
        "weights": load_file(output_dir / "model.safetensors"),
        "output_dir": output_dir,
    }


@pytest.fixture(scope="module")
def single_process(workspace):
    output_dir = workspace["root"] / "single"
    return run([sys.executable, *script_arguments(workspace, output_dir)], workspace, output_dir)


def test_single_process_recipe_writes_a_loadable_checkpoint(single_process):
    logs, output_dir = single_process["logs"], single_process["output_dir"]
    assert [entry["step"] for entry in logs] == [1, 2]
    assert all(set(LOGGED) <= entry.keys() for entry in logs)
    card = (output_dir / "README.md").read_text()
    assert "| `gradient_accumulation_steps` | 2 |" in card and "| `processes` | 1 |" in card
    model = FineCLForRelationExtraction.from_backbone(str(output_dir), num_labels=4)
    assert torch.equal(
        model.encoder.get_input_embeddings().weight,
        single_process["weights"]["encoder.embeddings.word_embeddings.weight"],
    )


@pytest.mark.parametrize("recipe", list(RECIPES))
def test_two_process_recipe_matches_the_single_process_run(recipe, workspace, single_process):
    output_dir = workspace["root"] / recipe
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--main_process_port",
        str(free_port()),
        *RECIPES[recipe],
        *script_arguments(workspace, output_dir),
    ]
    launched = run(command, workspace, output_dir)
    assert "| `processes` | 2 |" in (output_dir / "README.md").read_text()

    # Logged loss and its parts: the same as one process accumulating the same two micro-batches (not twice it).
    assert len(launched["logs"]) == len(single_process["logs"]) == 2
    for got, expected in zip(launched["logs"], single_process["logs"]):
        for name in LOGGED:
            assert got[name] == pytest.approx(expected[name], rel=1e-5), (recipe, name, got, expected)

    # Gradients: with SGD the weights moved by -lr × (sum of the step gradients); equal weights = equal gradients.
    initial = load_file(workspace["tiny"] / "model.safetensors")
    for name, expected in single_process["weights"].items():
        got = launched["weights"][name]
        if name.startswith("encoder."):
            moved = (expected - initial[name.removeprefix("encoder.")]).abs().max()
            assert (got - expected).abs().max() <= 1e-3 * moved + 1e-7, (recipe, name)
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6, msg=f"{recipe}: {name}")
