"""Every documented way of loading a FineCL folder, on a pre-training and a fine-tuned folder, with `import finecl_hf`
and with `trust_remote_code=True` where finecl_hf cannot be imported: either the class asked for with every weight
read from the folder, or an error naming the folder and the class to use — never a randomly initialised head.

Outcome matrix (what these tests assert):

| loader                                         | pre-training folder            | fine-tuned folder               |
|------------------------------------------------|--------------------------------|---------------------------------|
| `AutoModel` (both environments)                | `FineCLModel`, head unused     | `FineCLModel`, head unused      |
| `AutoModelForPreTraining` (finecl_hf)          | `FineCLForPreTraining`         | error naming folder + class     |
| `AutoModelForPreTraining` (remote code)        | `FineCLForPreTraining`         | error (not in the folder's auto_map) |
| `AutoModelForSequenceClassification` (finecl_hf) | error naming folder + class  | `FineCLForRelationExtraction`   |
| `AutoModelForSequenceClassification` (remote)  | error (not in auto_map)        | `FineCLForRelationExtraction`   |
| `FineCLForRelationExtraction.from_pretrained`  | error naming folder + class    | `FineCLForRelationExtraction`   |
| `FineCLForPreTraining.from_pretrained`         | `FineCLForPreTraining`         | error naming folder + class     |
| `FineCLModel.from_pretrained`                  | `FineCLModel`                  | `FineCLModel`                   |
| `pipeline("relation-extraction", model=...)`   | error naming folder + class    | `RelationExtractionPipeline`    |
| `pipeline(model=..., trust_remote_code=True)` (both) | error naming the folder  | `RelationExtractionPipeline`    |
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModel, AutoModelForPreTraining, AutoModelForSequenceClassification, pipeline

import finecl_hf
from finecl_hf import (
    FineCLConfig,
    FineCLForPreTraining,
    FineCLForRelationExtraction,
    FineCLModel,
    IncompatibleCheckpointError,
)

LABELS = ["no_relation", "founded_by", "capital_of"]
SENTENCE = "The <e1>child</e1> was wrapped into the <e2>cradle</e2>."


@pytest.fixture(scope="module")
def folders(tmp_path_factory, tiny_roberta_config, tiny_roberta_tokenizer) -> dict[str, Path]:
    """A pre-training folder and a fine-tuned (sentence-level) folder, each with its tokenizer."""
    root = tmp_path_factory.mktemp("finecl-folders")
    torch.manual_seed(0)
    pretraining = FineCLForPreTraining(FineCLConfig(encoder=tiny_roberta_config.to_dict()))
    finetuned = FineCLForRelationExtraction(FineCLConfig(
        encoder=tiny_roberta_config.to_dict(), num_labels=len(LABELS), id2label=dict(enumerate(LABELS)),
        label2id={label: index for index, label in enumerate(LABELS)},
    ))
    paths = {"pretraining": root / "pretraining", "finetuned": root / "finetuned"}
    for model, name in ((pretraining, "pretraining"), (finetuned, "finetuned")):
        model.save_pretrained(paths[name])
        tiny_roberta_tokenizer.save_pretrained(paths[name])
    return paths


def all_weights_from_folder(model: torch.nn.Module, folder: Path) -> bool:
    """Every parameter and buffer of `model` equals the folder's tensor of that name (none newly initialised)."""
    saved = load_file(str(folder / "model.safetensors"))
    state = model.state_dict()
    tied = {"lm_head.decoder.weight"}  # tied to the input embeddings, not stored
    return all(name in saved and torch.equal(tensor.cpu(), saved[name]) for name, tensor in state.items()
               if name not in tied and not name.endswith("position_ids"))


def test_auto_map_names_the_classes_that_load_each_folder(folders):
    pretraining = json.loads((folders["pretraining"] / "config.json").read_text())
    finetuned = json.loads((folders["finetuned"] / "config.json").read_text())
    common = {"AutoConfig": "configuration.FineCLConfig", "AutoModel": "modeling.FineCLModel"}
    assert pretraining["auto_map"] == {**common, "AutoModelForPreTraining": "modeling.FineCLForPreTraining"}
    assert finetuned["auto_map"] == {
        **common, "AutoModelForSequenceClassification": "modeling.FineCLForRelationExtraction"
    }
    for config in (pretraining, finetuned):
        (task,) = config["custom_pipelines"]
        assert config["custom_pipelines"][task]["impl"] == "pipelines.RelationExtractionPipeline"
    for folder in folders.values():
        assert {"modeling.py", "configuration.py", "losses.py", "weighting.py", "pipelines.py"} <= {
            path.name for path in folder.iterdir()
        }


# --------------------------------------------------------------------------------------- with `import finecl_hf`
LOADERS = {
    "AutoModel": AutoModel.from_pretrained,
    "AutoModelForPreTraining": AutoModelForPreTraining.from_pretrained,
    "AutoModelForSequenceClassification": AutoModelForSequenceClassification.from_pretrained,
    "FineCLModel.from_pretrained": FineCLModel.from_pretrained,
    "FineCLForPreTraining.from_pretrained": FineCLForPreTraining.from_pretrained,
    "FineCLForRelationExtraction.from_pretrained": FineCLForRelationExtraction.from_pretrained,
}
# (loader, folder) -> class obtained, or None for an IncompatibleCheckpointError naming the class to use.
EXPECTED = {
    ("AutoModel", "pretraining"): "FineCLModel",
    ("AutoModel", "finetuned"): "FineCLModel",
    ("AutoModelForPreTraining", "pretraining"): "FineCLForPreTraining",
    ("AutoModelForPreTraining", "finetuned"): None,
    ("AutoModelForSequenceClassification", "pretraining"): None,
    ("AutoModelForSequenceClassification", "finetuned"): "FineCLForRelationExtraction",
    ("FineCLModel.from_pretrained", "pretraining"): "FineCLModel",
    ("FineCLModel.from_pretrained", "finetuned"): "FineCLModel",
    ("FineCLForPreTraining.from_pretrained", "pretraining"): "FineCLForPreTraining",
    ("FineCLForPreTraining.from_pretrained", "finetuned"): None,
    ("FineCLForRelationExtraction.from_pretrained", "pretraining"): None,
    ("FineCLForRelationExtraction.from_pretrained", "finetuned"): "FineCLForRelationExtraction",
}
CLASS_TO_USE = {"pretraining": "FineCLForPreTraining", "finetuned": "FineCLForRelationExtraction"}


@pytest.mark.parametrize("loader, folder_type", sorted(EXPECTED))
def test_loader_gives_the_class_asked_for_or_names_the_one_to_use(loader, folder_type, folders, caplog):
    folder = folders[folder_type]
    expected = EXPECTED[(loader, folder_type)]
    if expected is None:
        with pytest.raises(IncompatibleCheckpointError) as error:
            LOADERS[loader](folder)
        message = str(error.value)
        assert str(folder) in message and CLASS_TO_USE[folder_type] in message and "\n" not in message
        return
    model = LOADERS[loader](folder)
    assert type(model).__name__ == expected
    assert all_weights_from_folder(model, folder)


def test_bare_model_says_in_one_line_that_the_head_is_unused(folders, caplog, capsys):
    with caplog.at_level("INFO"):
        FineCLModel.from_pretrained(folders["finetuned"])
    # (INFO also logs the configuration, whose `classifier_dropout` is not about weights.)
    lines = [record.getMessage() for record in caplog.records if "not used" in record.getMessage()]
    assert len(lines) == 1 and "\n" not in lines[0], lines
    assert "FineCLForRelationExtraction" in lines[0] and str(folders["finetuned"]) in lines[0]
    assert "classifier" not in capsys.readouterr().err  # no per-key report of the unused head besides that line


def test_new_head_only_on_request(folders):
    """Fine-tuning builds a classifier on a pre-trained encoder: explicitly, through from_backbone/allow_new_head."""
    classifier = FineCLForRelationExtraction.from_backbone(str(folders["pretraining"]), num_labels=4)
    pretrained = FineCLForPreTraining.from_pretrained(folders["pretraining"])
    assert torch.equal(classifier.encoder.get_input_embeddings().weight,
                       pretrained.encoder.get_input_embeddings().weight)
    assert classifier.config.num_labels == 4
    model = FineCLForRelationExtraction.from_pretrained(folders["pretraining"], allow_new_head=True)
    assert type(model) is FineCLForRelationExtraction


def test_pipeline_with_finecl_hf(folders):
    extractor = pipeline("relation-extraction", model=str(folders["finetuned"]), device="cpu")
    assert type(extractor).__name__ == "RelationExtractionPipeline"
    assert all_weights_from_folder(extractor.model, folders["finetuned"])
    assert extractor(SENTENCE)[0]["label"] in LABELS
    with pytest.raises(IncompatibleCheckpointError, match="FineCLForPreTraining") as error:
        pipeline("relation-extraction", model=str(folders["pretraining"]), device="cpu")
    assert str(folders["pretraining"]) in str(error.value)


# -------------------------------------------------------- trust_remote_code=True where finecl_hf cannot be imported
REMOTE_SCRIPT = textwrap.dedent(
    """
    import importlib.abc, json, sys

    class BlockFineCL(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "finecl_hf":
                raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)")

    sys.meta_path.insert(0, BlockFineCL())
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModel, AutoModelForPreTraining, AutoModelForSequenceClassification, pipeline

    def from_folder(model, folder):
        saved = load_file(folder + "/model.safetensors")
        return all(name in saved and torch.equal(tensor, saved[name]) for name, tensor in model.state_dict().items()
                   if name != "lm_head.decoder.weight" and not name.endswith("position_ids"))

    loaders = {
        "AutoModel": lambda f: AutoModel.from_pretrained(f, trust_remote_code=True),
        "AutoModelForPreTraining": lambda f: AutoModelForPreTraining.from_pretrained(f, trust_remote_code=True),
        "AutoModelForSequenceClassification":
            lambda f: AutoModelForSequenceClassification.from_pretrained(f, trust_remote_code=True),
        "pipeline": lambda f: pipeline(model=f, trust_remote_code=True, device="cpu"),
    }
    outcomes = {}
    for folder_type, folder in json.loads(sys.argv[1]).items():
        for name, load in loaders.items():
            try:
                loaded = load(folder)
            except Exception as error:
                outcomes[f"{name}|{folder_type}"] = {"error": type(error).__name__, "message": str(error)}
                continue
            model = getattr(loaded, "model", loaded)
            outcome = {"class": type(loaded).__name__, "model": type(model).__name__,
                       "all_weights_from_folder": from_folder(model, folder)}
            if name == "pipeline":
                outcome["prediction"] = loaded(sys.argv[2])
            outcomes[f"{name}|{folder_type}"] = outcome
    assert not any(name.startswith("finecl_hf") for name in sys.modules)
    print(json.dumps(outcomes))
    """
)


@pytest.fixture(scope="module")
def remote_outcomes(folders, tmp_path_factory) -> dict[str, dict]:
    workdir = tmp_path_factory.mktemp("remote-code")
    (workdir / "check.py").write_text(REMOTE_SCRIPT)
    env = {**os.environ, "HF_MODULES_CACHE": str(workdir / "modules"), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, str(workdir / "check.py"), json.dumps({k: str(v) for k, v in folders.items()}), SENTENCE],
        capture_output=True, text=True, cwd=workdir, env=env, check=False, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


REMOTE_EXPECTED = {
    ("AutoModel", "pretraining"): "FineCLModel",
    ("AutoModel", "finetuned"): "FineCLModel",
    ("AutoModelForPreTraining", "pretraining"): "FineCLForPreTraining",
    ("AutoModelForPreTraining", "finetuned"): None,
    ("AutoModelForSequenceClassification", "pretraining"): None,
    ("AutoModelForSequenceClassification", "finetuned"): "FineCLForRelationExtraction",
    ("pipeline", "pretraining"): None,
    ("pipeline", "finetuned"): "RelationExtractionPipeline",
}


@pytest.mark.parametrize("loader, folder_type", sorted(REMOTE_EXPECTED))
def test_remote_code_without_finecl_hf(loader, folder_type, remote_outcomes, folders):
    outcome = remote_outcomes[f"{loader}|{folder_type}"]
    expected = REMOTE_EXPECTED[(loader, folder_type)]
    if expected is None:
        assert "error" in outcome, outcome
        if loader == "pipeline":  # the pipeline's own check: names the folder and what it needs
            assert str(folders[folder_type]) in outcome["message"] and "fine-tuned" in outcome["message"]
        else:  # the folder's auto_map does not offer this Auto class: transformers refuses, nothing is built
            assert outcome["error"] == "ValueError" and "Unrecognized configuration class" in outcome["message"]
        return
    assert outcome.get("class") == expected, outcome
    assert outcome["all_weights_from_folder"]
    if loader == "pipeline":
        assert outcome["model"] == "FineCLForRelationExtraction"
        extractor = pipeline("relation-extraction", model=str(folders[folder_type]), device="cpu")
        local = extractor(SENTENCE)
        assert [item["label"] for item in outcome["prediction"]] == [item["label"] for item in local]
        assert outcome["prediction"][0]["score"] == pytest.approx(local[0]["score"], abs=1e-6)


REGISTRATION_CHECK = textwrap.dedent(
    """
    import sys
    {imports}
    from transformers import AutoConfig, AutoModel, AutoModelForPreTraining, AutoModelForSequenceClassification
    from transformers.pipelines import PIPELINE_REGISTRY
    config = AutoConfig.for_model("finecl", num_labels=2)
    print(type(config).__name__, PIPELINE_REGISTRY.check_task("relation-extraction")[1]["impl"].__name__,
          *(type(auto.from_config(config)).__name__
            for auto in (AutoModel, AutoModelForPreTraining, AutoModelForSequenceClassification)))
    """
)


@pytest.mark.parametrize("imports", [
    "import finecl_hf",  # alone: registration waits for transformers' Auto classes / pipelines to be imported
    "from transformers import pipeline; import finecl_hf",  # transformers first: registered at once
    "from finecl_hf.pipelines import RelationExtractionPipeline",  # a submodule first
    "from finecl_hf.configuration import FineCLConfig",
    "import finecl_hf.finetuning",
])
def test_registration_after_a_plain_import(imports):
    """Importing finecl_hf (in any order) registers the Auto classes and the `relation-extraction` pipeline."""
    script = REGISTRATION_CHECK.format(imports=imports)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["FineCLConfig", "RelationExtractionPipeline", "FineCLModel",
                                     "FineCLForPreTraining", "FineCLForRelationExtraction"]


def test_plain_import_leaves_the_heavy_modules_for_later():
    script = "import sys, finecl_hf; print(sorted(m for m in ('transformers.models', 'transformers.modeling_utils', " \
             "'transformers.pipelines', 'finecl_hf.modeling') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=300)
    assert result.stdout.strip() == "[]"
    assert finecl_hf.PIPELINE_TASK == "relation-extraction"
