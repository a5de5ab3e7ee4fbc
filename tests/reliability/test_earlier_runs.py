"""An output folder that holds an earlier run: refused without a word from the user, written over with
`--overwrite_output_dir` (the earlier run's checkpoints removed first, so they cannot be rotated against the new run's
or picked by `--resume_from_checkpoint last`), gone on from with `--resume_from_checkpoint last`. The refusals
themselves are cases of the bad-input table (`test_bad_inputs.py`: stage1/stage2/stage3-earlier-run)."""

from __future__ import annotations

import json
import shutil

from reliability_helpers import run_cli, single_thread
from reliability_runs import stage3_arguments

from finecl_hf.checkpointing import remove_checkpoints


def test_overwrite_output_dir_writes_over_an_earlier_fine_tuning_and_drops_its_checkpoints(
    stage3_reference, sentence_dataset, tiny_backbone, tmp_path
):
    earlier = shutil.copytree(stage3_reference, tmp_path / "run")
    assert {path.name for path in earlier.glob("checkpoint-*")} >= {"checkpoint-4", "checkpoint-6"}
    arguments = stage3_arguments(sentence_dataset, tiny_backbone, earlier)
    arguments[arguments.index("--max_steps") + 1] = "2"
    refused = run_cli("trainers/finetune.py", arguments)
    assert refused.returncode == 2 and "earlier run" in refused.message, refused.describe()
    with single_thread():
        outcome = run_cli("trainers/finetune.py", [*arguments, "--overwrite_output_dir"])
    assert outcome.returncode == 0, outcome.describe()
    # Only the new run's checkpoint is left: the earlier checkpoint-4 and -6 would outrank it by step.
    assert sorted(path.name for path in earlier.glob("checkpoint-*")) == ["checkpoint-2"]
    assert json.loads((earlier / "trainer_state.json").read_text())["global_step"] == 2


def test_resume_from_checkpoint_last_goes_on_in_a_folder_with_an_earlier_run(
    stage3_reference, sentence_dataset, tiny_backbone, tmp_path
):
    earlier = shutil.copytree(stage3_reference, tmp_path / "run")
    shutil.rmtree(earlier / "checkpoint-6")
    arguments = stage3_arguments(sentence_dataset, tiny_backbone, earlier)
    with single_thread():
        outcome = run_cli("trainers/finetune.py", [*arguments, "--resume_from_checkpoint", "last"])
    assert outcome.returncode == 0, outcome.describe()
    assert (earlier / "checkpoint-6").is_dir()  # steps 5-6 trained again from checkpoint-4


def test_remove_checkpoints_takes_the_checkpoints_of_the_run_and_of_its_seed_folders_only(tmp_path):
    for folder in ("checkpoint-3", "seed-42/checkpoint-9", "seed-42/notes", "checkpoint-x"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "all_results.json").write_text("{}")
    removed = remove_checkpoints(tmp_path)
    assert sorted(path.relative_to(tmp_path).as_posix() for path in removed) == ["checkpoint-3", "seed-42/checkpoint-9"]
    assert sorted(path.relative_to(tmp_path).as_posix() for path in tmp_path.rglob("*")) == [
        "all_results.json", "checkpoint-x", "seed-42", "seed-42/notes"]
