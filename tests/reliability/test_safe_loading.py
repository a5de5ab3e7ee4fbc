"""Safe loading: nothing in finecl-hf unpickles or evaluates data, and saved checkpoints hold safetensors weights only.

- The source of `finecl_hf/`, `trainers/` and `dataset_scripts/` is parsed (AST, so comments and strings do not count)
  and every call that can execute code from a file is refused: `torch.load` without `weights_only=True`, pickle and
  friends, `eval`/`exec`/`compile`, unsafe YAML, `numpy.load(allow_pickle=True)`, `torch.jit.load`, and
  `trust_remote_code=True`.
- The checkpoints of the three stage runs keep their weights in `.safetensors`; what else a `Trainer` checkpoint
  holds for resuming (optimizer, scheduler, RNG state) loads with `torch.load(weights_only=True)` (numpy arrays
  allowed, as `Trainer` itself loads the RNG state), `training_args.bin` is never read back, and the final,
  push-ready folders hold no pickle at all.
- Wherever the documentation shows `trust_remote_code=True`, it says that this runs the code shipped with the
  checkpoint (and `import finecl_hf` makes it unnecessary).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from reliability_helpers import REPOSITORY
from transformers.trainer_pt_utils import safe_globals

SOURCE_ROOTS = ("finecl_hf", "trainers", "dataset_scripts")
PICKLE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "marshal", "shelve"}
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
# Written by `Trainer` into every checkpoint and never read back by it (nor by finecl-hf).
TRAINER_ARGUMENTS_PICKLE = "training_args.bin"
DOCUMENTS = ("README.md", "docs/**/*.md", "trainers/README.md", "dataset_scripts/README.md", "model_cards/*.md")


def _dotted(node: ast.AST) -> str:
    """`torch.jit.load` for the expression `torch.jit.load`, '' for anything that is not a dotted name."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and (prefix := _dotted(node.value)):
        return f"{prefix}.{node.attr}"
    return ""


def _keyword(call: ast.Call, name: str) -> ast.AST | None:
    return next((keyword.value for keyword in call.keywords if keyword.arg == name), None)


def _is_true(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def unsafe_constructs(tree: ast.AST) -> list[tuple[int, str]]:
    """`(line, what)` for every construct of `tree` that can run code read from a file."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for module in modules:
                if module.split(".")[0] in PICKLE_MODULES:
                    found.append((node.lineno, f"imports {module}"))
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        if name in ("torch.load",) and not _is_true(_keyword(node, "weights_only")):
            found.append((node.lineno, "torch.load without weights_only=True"))
        elif name in ("eval", "exec", "compile", "__import__"):
            found.append((node.lineno, f"{name}()"))
        elif name in ("yaml.load", "yaml.load_all") and "Safe" not in _dotted(_keyword(node, "Loader") or ast.Name("")):
            found.append((node.lineno, f"{name} without a SafeLoader"))
        elif name in ("yaml.unsafe_load", "yaml.full_load", "torch.jit.load", "pd.read_pickle", "pandas.read_pickle"):
            found.append((node.lineno, name))
        elif name in ("np.load", "numpy.load") and _is_true(_keyword(node, "allow_pickle")):
            found.append((node.lineno, f"{name}(allow_pickle=True)"))
        if _is_true(_keyword(node, "trust_remote_code")):
            found.append((node.lineno, "trust_remote_code=True"))
    return sorted(found)


def source_files() -> list[Path]:
    return sorted(path for root in SOURCE_ROOTS for path in (REPOSITORY / root).rglob("*.py"))


def test_the_scanner_finds_each_unsafe_construct():
    snippet = """
import pickle
from dill import loads
torch.load(path)
torch.load(path, weights_only=False)
eval(text)
yaml.load(stream)
np.load(path, allow_pickle=True)
AutoModel.from_pretrained(path, trust_remote_code=True)
torch.jit.load(path)
"""
    safe = """
torch.load(path, weights_only=True)
model.eval()
re.compile("x")
yaml.load(stream, Loader=yaml.SafeLoader)
yaml.safe_load(stream)
np.load(path)
AutoModel.from_pretrained(path, trust_remote_code=False)
"""
    assert [line for line, _ in unsafe_constructs(ast.parse(snippet))] == list(range(2, 11))
    assert unsafe_constructs(ast.parse(safe)) == []


def test_no_library_code_path_runs_code_from_data_files():
    files = source_files()
    assert len(files) > 30, "the scan must see the package"
    violations = [
        f"{path.relative_to(REPOSITORY)}:{line}: {what}"
        for path in files
        for line, what in unsafe_constructs(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    ]
    assert violations == []


def saved_folders(output_dir: Path) -> list[Path]:
    """The checkpoints of a run and, when it saved a model at the top, its final folder."""
    folders = sorted(output_dir.glob("checkpoint-*"))
    if (output_dir / "config.json").is_file():
        folders.append(output_dir)
    return folders


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["stage1_reference", "stage2_reference", "stage3_reference"])
def test_checkpoints_keep_weights_in_safetensors_and_resume_state_loads_with_weights_only(stage, request):
    folders = saved_folders(request.getfixturevalue(stage))
    assert folders, f"{stage} saved nothing"
    for folder in folders:
        names = {path.name for path in folder.iterdir() if path.is_file()}
        assert "model.safetensors" in names, f"{folder}: {sorted(names)}"
        assert not [name for name in names if re.match(r"(pytorch_model|model|adapter_model).*\.bin$", name)]
        for name in sorted(names):
            path = folder / name
            if name.endswith(PICKLE_SUFFIXES) and name != TRAINER_ARGUMENTS_PICKLE:
                # Raises on anything but tensors, plain containers and (RNG state) numpy arrays: no code runs.
                with safe_globals():
                    torch.load(path, weights_only=True)
            elif name.endswith(".npz"):
                with np.load(path) as arrays:  # allow_pickle=False: object arrays would raise
                    assert all(arrays[key].dtype != object for key in arrays.files)


@pytest.mark.slow
@pytest.mark.parametrize(
    "stage",
    ["stage2_reference", "stage3_reference"],
)
def test_final_model_folders_hold_no_pickle(stage, request):
    output_dir = request.getfixturevalue(stage)
    assert (output_dir / "model.safetensors").is_file()
    pickles = sorted(path.name for path in output_dir.iterdir() if path.name.endswith(PICKLE_SUFFIXES))
    assert pickles == []


def trust_remote_code_paragraphs() -> list[tuple[str, str]]:
    """`(document, paragraph)` for every paragraph of the documentation that shows `trust_remote_code=True`."""
    found = []
    for pattern in DOCUMENTS:
        for path in sorted(REPOSITORY.glob(pattern)):
            for paragraph in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
                if "trust_remote_code=True" in paragraph:
                    found.append((str(path.relative_to(REPOSITORY)), paragraph))
    return sorted(found)


def warns_about_code_execution(paragraph: str) -> bool:
    return bool(re.search(r"execut|runs? (the )?(python|code|modell?ing)", paragraph, re.IGNORECASE))


@pytest.mark.parametrize(
    "document",
    ["docs/guides/models.md", "model_cards/pretrained_model_card.md", "model_cards/finetuned_model_card.md"],
)
def test_documentation_of_trust_remote_code_says_it_runs_shipped_code(document):
    paragraphs = [paragraph for path, paragraph in trust_remote_code_paragraphs() if path == document]
    assert paragraphs, f"{document} no longer shows trust_remote_code=True: update this test"
    for paragraph in paragraphs:
        assert warns_about_code_execution(paragraph), paragraph


def test_every_document_showing_trust_remote_code_is_checked():
    checked = {"docs/guides/models.md", "model_cards/pretrained_model_card.md", "model_cards/finetuned_model_card.md"}
    assert {path for path, _ in trust_remote_code_paragraphs()} <= checked
