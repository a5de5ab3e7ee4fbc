"""`finecl reproduce` (`finecl_hf/experiments/reproduction.py`): the comparison's plan, resumption and report (the
runs themselves are the stages' tests)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from finecl_hf.experiments import reproduction as reproduce

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def plan(**overrides) -> list[reproduce.Step]:
    args = reproduce.ReproduceArguments(**overrides)
    return reproduce.build_steps(args, Path("/runs"), "/models/minilm", Path("/data"))


def option(command: list[str], name: str) -> list[str]:
    """The values following `name` in a command line (up to the next flag)."""
    start = command.index(name) + 1
    end = next((i for i in range(start, len(command)) if command[i].startswith("--")), len(command))
    return command[start:end]


def test_every_encoder_is_fine_tuned_at_every_fraction_with_the_same_data_and_seeds():
    steps = plan(weightings=["uniform", "paper", "reference"], train_fractions=[0.01, 0.1, 1.0],
                 finetune_epochs_per_fraction=[20, 5, 2], seeds=[1, 2, 3])
    pretraining = [step for step in steps if step.title.startswith("stage 2")]
    assert [option(step.command, "--weighting") for step in pretraining] == [["uniform"], ["paper"], ["reference"]]
    assert len({option(step.command, "--learning_order_dataset")[0] for step in pretraining}) == 1

    fine_tuning = [step for step in steps if step.title.startswith("stage 3")]
    assert len(fine_tuning) == 4 * 3  # no pre-training + three weightings, three fractions each
    models = {option(step.command, "--model_name_or_path")[0] for step in fine_tuning}
    assert models == {"/models/minilm", "/runs/stage2/uniform", "/runs/stage2/paper", "/runs/stage2/reference"}
    for step in fine_tuning:
        assert option(step.command, "--seeds") == ["1", "2", "3"]
        fraction = option(step.command, "--train_fraction")[0]
        assert option(step.command, "--num_train_epochs") == [{"0.01": "20", "0.1": "5", "1.0": "2"}[fraction]]
    assert len({step.done_when for step in steps}) == len(steps), "two steps share a completion marker"


def test_table2_can_be_left_out():
    assert any(step.title.startswith("Table 2") for step in plan())
    assert not any(step.title.startswith("Table 2") for step in plan(skip_table2=True))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"weightings": ["erica"]}, "--weightings ['erica']"),
        ({"train_fractions": [0.01, 0.1], "finetune_epochs_per_fraction": [10]}, "--finetune_epochs_per_fraction"),
        ({"seeds": []}, "--seeds"),
    ],
)
def test_inconsistent_arguments_are_named(overrides, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        reproduce.ReproduceArguments(**overrides)


def test_finished_steps_are_skipped_and_a_failing_step_stops_the_run(tmp_path, capsys):
    done = tmp_path / "done.json"
    done.write_text("{}")
    fail = [sys.executable, "-c", "raise SystemExit(3)"]
    seconds = reproduce.run_steps([reproduce.Step("finished", fail, done)], overwrite=False)
    assert seconds == {"finished": 0.0}
    assert "already done" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="FAILED \\(exit 3\\)"):
        reproduce.run_steps([reproduce.Step("unfinished", fail, tmp_path / "missing.json")], overwrite=False)


def scores(mean: float, std: float) -> dict:
    return {"mean": mean, "std": std, "n": 3, "values": {}}


def test_report_has_a_row_per_encoder_and_valid_plots(tmp_path):
    args = reproduce.ReproduceArguments(train_fractions=[0.01, 0.1], finetune_epochs_per_fraction=[10, 3])
    fine_tuning = {
        name: {fraction: {"test_macro_f1_official": scores(0.5 + offset, 0.02), "test_micro_f1": scores(0.6, 0.01)}
               for fraction in ("1%", "10%")}
        for offset, name in zip((0.0, 0.05, 0.1), ("none", "uniform", "paper"))
    }
    results = {
        "date": "2026-11-21", "command": "finecl reproduce", "arguments": vars(args), "backbone": "/m/minilm",
        "seconds_per_step": {"a": 60.0},
        "learning_order": {
            "instances": 10, "percent_learned_per_epoch": [40.0, 30.0, 10.0],
            "percent_learned_per_class": {"P17": [50.0, 25.0, 0.0], "no_relation": [30.0, 35.0, 20.0]},
            "subset_precision": {"A_0": {"size": 4, "precision": 0.75}, "not_learned": {"size": 2, "precision": 0.5}},
            "clean_label_auc": 0.61,
        },
        "pretraining": {"paper": {"loss": 3.5, "rd_loss": 1.25}},
        "fine_tuning": fine_tuning,
    }
    markdown = reproduce.render_markdown(results)
    assert "| FineCL (--weighting paper) | 60.00 ± 2.00 | 60.00 ± 1.00 | 60.00 ± 2.00 | 60.00 ± 1.00 |" in markdown
    assert "| no relation pre-training | 50.00 ± 2.00 |" in markdown
    assert "| A_0 | 4 | 40.0 | 0.750 |" in markdown and "ROC-AUC of learning order as a clean-label detector: 0.610" in markdown

    plots = reproduce.plot_results(results, tmp_path)
    assert {path.name for path in plots} == {
        "percent_learned_per_epoch.png", "percent_learned_per_class.png", "semeval_f1.png"
    }
    for path in plots:
        assert path.read_bytes().startswith(PNG_SIGNATURE) and path.stat().st_size > 5_000
