"""`finecl reproduce` (`finecl_hf/experiments/reproduction.py`, `design.py`, `reproduction_report.py`): the
experiment's plan, resumption, paired comparisons and report (the runs themselves are the stages' tests)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from finecl_hf.experiments import reproduction as reproduce
from finecl_hf.experiments import report_collection, report_markdown
from finecl_hf.experiments import reproduction_report as report
from finecl_hf.experiments.design import ARMS, CHOSEN_ARM, DESIGNS, PRETRAINING_CORPORA, plan_arms
from finecl_hf.probing import ProbeResult, ProbeSettings
from finecl_hf.probing.probe import _summarise

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ROOT = Path("/runs")


def plan(**overrides) -> list[reproduce.Step]:
    args = reproduce.ReproduceArguments(**overrides)
    return reproduce.build_steps(args, ROOT, "/models/minilm", Path("/data"))


def option(command: list[str], name: str) -> list[str]:
    """The values following `name` in a command line (up to the next flag)."""
    start = command.index(name) + 1
    end = next((i for i in range(start, len(command)) if command[i].startswith("--")), len(command))
    return command[start:end]


def stage2_steps(steps: list[reproduce.Step]) -> dict[str, reproduce.Step]:
    """Arm key -> its stage-2 step."""
    return {step.title.split(",")[0].removeprefix("stage 2: "): step for step in steps if step.title.startswith("stage 2")}


def test_default_plan_runs_every_arm_where_it_applies():
    args = reproduce.ReproduceArguments()
    arms = {arm.key for arm in args.planned_arms()}
    expected = {f"noise_0.5/{name}/seed-{seed}" for name in ("erica", "finecl", CHOSEN_ARM, "oracle_drop")
                for seed in (42, 43)}  # fmt: skip
    expected |= {f"{corpus}/{name}/seed-42" for corpus in ("clean", "natural") for name in ("erica", "finecl")}
    assert arms == expected
    assert (args.pretrain_steps, args.output_dir) == (150, "outputs/reproduce")


def test_full_preset_is_issue_19s_design_with_issue_28s_natural_seeds_and_issue_31s_relabel_arms():
    args = reproduce.ReproduceArguments(preset="full")
    seeds = {}
    for arm in args.planned_arms():
        seeds.setdefault((arm.corpus, arm.name), []).append(arm.seed)
    other = "posterior" if CHOSEN_ARM == "truncate" else "truncate"
    three = [42, 43, 44]
    assert seeds == {
        **{("noise_0.5", name): three for name in ("erica", "finecl", CHOSEN_ARM, "oracle_drop", "relabel",
                                                          "oracle_relabel")},
        **{("noise_0.5", name): [42] for name in ("oracle", "ed_mlm", other)},
        ("clean", "erica"): [42], ("clean", "ed_mlm"): [42],
        **{("noise_0.3", name): [42] for name in ("erica", "finecl", CHOSEN_ARM)},
        **{("natural", name): three for name in ("erica", "finecl", CHOSEN_ARM)},
    }  # fmt: skip
    assert ("natural", "wiki80", "finecl", "erica") in DESIGNS["full"].headline
    assert ("noise_0.5", "wiki80", "relabel", "erica") in DESIGNS["full"].headline
    assert (args.pretrain_steps, args.output_dir) == (300, "outputs/reproduce_full")
    for corpus, task, a, b in DESIGNS["full"].headline:
        assert (corpus, a) in seeds and (corpus, b) in seeds and task in args.probe_tasks


def test_arms_needing_the_noise_mask_skip_corpora_without_one():
    arms = plan_arms(DESIGNS["full"], ["clean", "natural", "noise_0.5"], ["erica", "oracle_drop"], [1])
    assert [arm.key for arm in arms] == ["clean/erica/seed-1", "natural/erica/seed-1", "noise_0.5/erica/seed-1",
                                         "noise_0.5/oracle_drop/seed-1"]  # fmt: skip


def test_stage2_commands_take_weighting_order_and_seed_from_the_arm():
    steps = stage2_steps(plan())
    for key, step in steps.items():
        corpus, name, seed = key.split("/")
        definition = ARMS[name]
        assert option(step.command, "--weighting") == [definition.weighting]
        assert option(step.command, "--order_by") == [definition.order_by]
        if definition.rd_loss_weight is not None:
            assert option(step.command, "--rd_loss_weight") == [repr(definition.rd_loss_weight)]
        assert option(step.command, "--seed") == [seed.removeprefix("seed-")]
        order = option(step.command, "--learning_order_dataset")[0]
        if definition.order_source in ("oracle", "stage1"):  # the relabelled orders: their own test
            oracle = definition.order_source == "oracle"
            expected = ROOT / "oracle" / corpus if oracle else ROOT / "stage1" / corpus / "learning_order"
            assert order == str(expected)
        assert option(step.command, "--output_dir") == [str(ROOT / "stage2" / key)]
    assert option(steps[f"noise_0.5/{CHOSEN_ARM}/seed-43"].command, "--order_by") == ["combined"]
    full = stage2_steps(plan(preset="full"))
    assert option(full["clean/ed_mlm/seed-42"].command, "--rd_loss_weight") == ["0.0"]
    assert option(full["noise_0.5/oracle_drop/seed-44"].command, "--weighting") == ["truncate"]
    assert option(full["noise_0.5/erica/seed-44"].command, "--max_steps") == ["300"]


def test_relabel_arms_pretrain_on_a_relabelled_order_made_after_stage_1_or_from_the_noise_mask():
    from finecl_hf.experiments.design import RELABEL_MIN_PROBABILITY

    steps = plan(preset="full", corpora=["noise_0.5"], arms=["erica", "relabel", "oracle_relabel"])
    titles = [step.title for step in steps]
    relabelled = ROOT / "relabelled" / "noise_0.5" / f"min-probability-{RELABEL_MIN_PROBABILITY:g}"
    relabel = next(step for step in steps if step.title.startswith("relabelled order: noise_0.5"))
    assert relabel.command[relabel.command.index("label-issues") + 1] == str(ROOT / "stage1" / "noise_0.5" / "learning_order")
    assert option(relabel.command, "--clean") == ["relabel"]
    assert option(relabel.command, "--min_probability") == [repr(RELABEL_MIN_PROBABILITY)]
    assert option(relabel.command, "--output_dir") == [str(relabelled)]
    # After stage 1, before the arm that reads it; done once the arm is probed (a resumed run skips it).
    assert titles.index(relabel.title) > titles.index(next(t for t in titles if t.startswith("stage 1")))
    assert titles.index(relabel.title) < titles.index("stage 2: noise_0.5/relabel/seed-42, " + ARMS["relabel"].label)
    assert ROOT / "probes" / "noise_0.5/relabel/seed-42" / "probe_results.json" in relabel.also_done_when
    oracle = next(step for step in steps if step.title.startswith("oracle relabelled order"))
    assert "--relabel" in oracle.command
    assert option(oracle.command, "--output") == [str(ROOT / "oracle_relabelled" / "noise_0.5")]
    arms = stage2_steps(steps)
    assert option(arms["noise_0.5/relabel/seed-42"].command, "--learning_order_dataset") == [str(relabelled)]
    assert option(arms["noise_0.5/oracle_relabel/seed-42"].command, "--learning_order_dataset") == [
        str(ROOT / "oracle_relabelled" / "noise_0.5")
    ]
    assert {option(arms[key].command, "--weighting")[0] for key in arms} == {"uniform"}


def test_every_probe_shares_draws_and_each_arm_is_probed_after_its_pretraining():
    steps = plan()
    probes = [step for step in steps if step.title.startswith("probe")]
    assert {tuple(option(step.command, flag)[0] for flag in ("--seed", "--shots", "--num_draws")) for step in probes} == {
        ("0", "8", "20")
    }
    titles = [step.title for step in steps]
    for key in stage2_steps(steps):
        assert titles[titles.index(f"probe: {key}") - 1].startswith(f"stage 2: {key}")
    assert len({step.done_when for step in steps}) == len(steps), "two steps share a completion marker"


def test_budget_curve_probes_checkpoints_of_the_clean_erica_arm_on_the_tuning_split():
    steps = plan(pretrain_steps=100, budget_curve_interval=25)
    curve = [step for step in steps if step.title.startswith("probe: budget curve")]
    encoders = [option(step.command, "--model_name_or_path")[0] for step in curve]
    arm = ROOT / "stage2" / "clean" / "erica" / "seed-42"
    assert encoders == ["/models/minilm", *(str(arm / f"checkpoint-{step}") for step in (25, 50, 75, 100))]
    assert {option(step.command, "--task")[0] for step in curve} == {reproduce.BUDGET_CURVE_TASK}
    assert option(stage2_steps(steps)["clean/erica/seed-42"].command, "--save_steps") == ["25"]
    assert not any("budget curve" in step.title for step in plan(budget_curve_interval=0))


def test_fine_tuning_and_table2_are_opt_in():
    assert not any(step.title.startswith(("stage 3", "Table 2")) for step in plan())
    steps = plan(fine_tune_corpora=["noise_0.5"], train_fractions=[0.01], finetune_epochs_per_fraction=[10], table2=True)
    models = {option(step.command, "--model_name_or_path")[0] for step in steps if step.title.startswith("stage 3")}
    assert models == {"/models/minilm", str(ROOT / "stage2/noise_0.5/erica/seed-42"),
                      str(ROOT / "stage2/noise_0.5/finecl/seed-42")}  # fmt: skip
    assert sum(step.title.startswith("Table 2") for step in steps) == 2


def test_a_stage_command_its_parser_refuses_fails_when_the_plan_is_made(capsys):
    with pytest.raises(ValueError, match=r"the plan's step 'probe: none' \(finecl probe\) is invalid: .*shots"):
        plan(probe_shots=0)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"corpora": ["noise_0.9"]}, "--corpora ['noise_0.9']"),
        ({"arms": ["finecl"]}, "--arms ['finecl']"),
        ({"arms": ["erica", "coteaching"]}, "--arms ['coteaching']"),
        ({"probe_tasks": ["tacred"]}, "--probe_tasks ['tacred']"),
        ({"train_fractions": [0.01, 0.1], "finetune_epochs_per_fraction": [10]}, "--finetune_epochs_per_fraction"),
        ({"pretrain_seeds": []}, "--pretrain_seeds"),
        ({"preset": "huge"}, "--preset huge"),
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
    timings = tmp_path / "seconds.json"
    ok = [sys.executable, "-c", "pass"]
    reproduce.run_steps([reproduce.Step("quick", ok, tmp_path / "never.json")], overwrite=False, timings_file=timings)
    measured = json.loads(timings.read_text())["quick"]
    assert measured > 0  # a resumed run reports the time the step took where it ran
    assert reproduce.run_steps([reproduce.Step("quick", fail, done)], overwrite=False, timings_file=timings) == {
        "quick": measured
    }
    assert "already done" in capsys.readouterr().out
    timings.write_text(json.dumps({"quick": 100.0}))  # recorded, but its output is gone: it runs again
    unfinished = [reproduce.Step("quick", ok, tmp_path / "never.json")]
    rerun = reproduce.run_steps(unfinished, overwrite=False, timings_file=timings)
    assert rerun["quick"] == json.loads(timings.read_text())["quick"] > 100.0  # the new time adds to the old
    fresh = reproduce.run_steps(unfinished, overwrite=True, timings_file=timings)
    assert 0 < fresh["quick"] < 100.0  # --overwrite starts the step's time afresh
    with pytest.raises(SystemExit, match="FAILED \\(exit 3\\)"):
        reproduce.run_steps([reproduce.Step("unfinished", fail, tmp_path / "missing.json")], overwrite=False)


# ------------------------------------------------------------------------------------------------------ report
NUM_TEST = 300
LABELS = [f"P{index}" for index in range(5)]
SETTINGS = ProbeSettings(shots=2, num_draws=6, num_resamples=300)


def planted_probe(encoder: str, accuracy: float, seed: int) -> ProbeResult:
    """A probe whose draws are right on about `accuracy` of a fixed test set (the same references for all)."""
    references = np.random.default_rng(0).integers(0, len(LABELS), NUM_TEST)
    rng = np.random.default_rng(seed)
    wrong = (references[None, :] + rng.integers(1, len(LABELS), (SETTINGS.num_draws, NUM_TEST))) % len(LABELS)
    predictions = np.where(rng.random((SETTINGS.num_draws, NUM_TEST)) < accuracy, references[None, :], wrong)
    result = ProbeResult(
        encoder=encoder, encoder_fingerprint=encoder, dataset="wiki80", shot_split="train", test_split="validation",
        test_fingerprint="fixed", label_names=LABELS, settings=SETTINGS,
        shot_rows=np.tile(np.arange(10), (SETTINGS.num_draws, 1)), references=references, predictions=predictions,
    )  # fmt: skip
    _summarise(result)
    return result


def write_probe(layout: reproduce.ReproductionLayout, encoder: str, accuracy: float, seed: int, folder=None) -> None:
    result = planted_probe(encoder, accuracy, seed)
    result.save((folder or layout.probes(encoder)) / "wiki80" / "0-encoder")


@pytest.fixture
def finished_experiment(tmp_path):
    """A finished (two corpora) or interrupted (natural) experiment with planted probe accuracies."""
    args = reproduce.ReproduceArguments(
        preset="full", corpora=["clean", "noise_0.5", "natural"], arms=["erica", "finecl", CHOSEN_ARM, "oracle",
        "oracle_drop"], pretrain_seeds=[42, 43], probe_tasks=["wiki80"], pretrain_steps=20, budget_curve_interval=10,
    )  # fmt: skip
    layout = reproduce.ReproductionLayout(tmp_path)
    accuracies = {
        ("clean", "erica"): 0.75,
        **{("noise_0.5", name): accuracy for name, accuracy in
           (("erica", 0.60), ("finecl", 0.70), (CHOSEN_ARM, 0.72), ("oracle", 0.80), ("oracle_drop", 0.85))},
        ("natural", "erica"): 0.70, ("natural", CHOSEN_ARM): 0.70,  # equal: a CI around 0
    }  # fmt: skip
    write_probe(layout, "none", 0.40, seed=1)
    for number, arm in enumerate(args.planned_arms()):
        if arm.corpus == "natural" and arm.name == "finecl":
            continue  # interrupted before this arm's probe
        write_probe(layout, arm.key, accuracies[(arm.corpus, arm.name)], seed=100 + number)
    for corpus, auc in (("clean", float("nan")), ("noise_0.5", 0.6)):  # clean: no wrong labels, no ROC-AUC
        stage1 = layout.stage1(corpus)
        stage1.mkdir(parents=True)
        scores = {"learned_epoch": {"roc_auc": auc, "top_25_precision": 1.0, "top_50_precision": 1.0}}
        (stage1 / "learning_order_report.json").write_text(json.dumps({"scores": scores}))
    for number, step in enumerate((0, 10, 20)):
        folder = layout.budget_curve(step)
        result = planted_probe(f"curve-{step}", 0.4 + 0.1 * number, seed=7)
        result.dataset = reproduce.BUDGET_CURVE_TASK
        result.save(folder / reproduce.BUDGET_CURVE_TASK / "0-encoder")
    return args, layout


def test_comparisons_are_paired_by_seed_and_find_the_planted_effects(finished_experiment):
    args, layout = finished_experiment
    comparisons = report_collection.paired_comparisons(args, report_collection.load_probes(args, layout))
    by_pair = {(item["corpus"], item["a"], item["b"]): item for item in comparisons}
    assert set(by_pair) == {
        ("clean", "erica", "none"),
        ("noise_0.5", "erica", "none"), ("noise_0.5", "finecl", "erica"), ("noise_0.5", CHOSEN_ARM, "erica"),
        ("noise_0.5", "oracle", "erica"), ("noise_0.5", "oracle_drop", "erica"),
        ("natural", "erica", "none"), ("natural", CHOSEN_ARM, "erica"),  # natural/finecl not probed: no comparison
    }  # fmt: skip
    for item in comparisons:
        assert set(item) >= {"corpus", "probe", "a", "b", "difference", "ci_low", "ci_high", "n"}
        assert item["probe"] == "wiki80" and item["ci_low"] <= item["difference"] <= item["ci_high"]
    ceiling = by_pair[("noise_0.5", "oracle_drop", "erica")]
    assert ceiling["seeds"] == [42, 43] and ceiling["n"] == 2 * SETTINGS.num_draws
    assert 20 < ceiling["difference"] < 30 and ceiling["ci_low"] > 0
    assert [item["seed"] for item in ceiling["per_seed"]] == [42, 43]
    per_seed = [item["difference"] for item in ceiling["per_seed"]]
    assert ceiling["difference"] == pytest.approx(sum(per_seed) / 2, abs=1e-3)  # the pooled estimate is their mean
    assert all(item["ci_low"] <= item["difference"] <= item["ci_high"] for item in ceiling["per_seed"])
    oracle = by_pair[("noise_0.5", "oracle", "erica")]
    assert oracle["seeds"] == [42] and oracle["n"] == SETTINGS.num_draws  # one seed in the full design
    assert "per_seed" not in oracle
    assert 30 < by_pair[("clean", "erica", "none")]["difference"] < 40
    equal = by_pair[("natural", CHOSEN_ARM, "erica")]
    assert equal["ci_low"] < 0 < equal["ci_high"], "equal accuracies must give a CI around 0"


def test_noise_cost_and_the_share_each_arm_wins_back(finished_experiment):
    args, layout = finished_experiment
    probes = report_collection.load_probes(args, layout)
    costs = {item["corpus"]: item for item in report_collection.noise_costs(args, probes)}
    assert set(costs) == {"noise_0.5", "natural"}
    assert 10 < costs["noise_0.5"]["cost"] < 20 and costs["noise_0.5"]["ci_low"] > 0  # clean 75% vs noisy 60%
    assert 0 < costs["natural"]["cost"] < 10
    comparisons = report_collection.paired_comparisons(args, probes)
    shares = {(item["corpus"], item["arm"]): item["share"]
              for item in report_collection.won_back(comparisons, list(costs.values()))}  # fmt: skip
    assert 0.5 < shares[("noise_0.5", "finecl")] < 0.85 and shares[("noise_0.5", "oracle_drop")] > 1
    assert abs(shares[("natural", CHOSEN_ARM)]) < 0.6


def test_report_writes_tables_json_and_plots(finished_experiment):
    args, layout = finished_experiment
    results = report.write_report(args, layout, "/models/minilm", {"step": 60.0})
    saved = json.loads((layout.root / "results.json").read_text(), parse_constant=pytest.fail)  # no NaN/Infinity
    assert saved["comparisons"] == results["comparisons"] and len(saved["comparisons"]) == 8
    assert [(item["corpus"], item["a"]) for item in saved["headline"]] == [
        ("noise_0.5", CHOSEN_ARM), ("noise_0.5", "oracle_drop"), ("noise_0.5", "finecl"), ("natural", CHOSEN_ARM)
    ]
    assert [point["step"] for point in saved["budget_curve"]] == [0, 10, 20]
    markdown = (layout.root / "results.md").read_text()
    assert "| noise_0.5 | wiki80 | oracle − erica |" in markdown
    ceiling = next(item for item in saved["comparisons"] if item["a"] == "oracle_drop" and item["corpus"] == "noise_0.5")
    per_seed = report_markdown.per_seed_text(ceiling)
    assert f"| {per_seed} |" in markdown and per_seed.count(",") == 1
    assert f"`{CHOSEN_ARM}` wins back" in markdown and "## Share of the noise cost won back" in markdown
    assert markdown.index("## Headline comparisons") < markdown.index("## Probe of every encoder")
    assert "| natural/finecl/seed-42 |" not in markdown  # never probed: absent, not a made-up row
    assert "| clean | – |" in markdown and "| noise_0.5 | 0.600 |" in markdown
    assert saved["learning_order"]["clean"]["scores"]["learned_epoch"]["roc_auc"] is None
    for name in ("probe_vs_noise.png", "paired_differences.png", "budget_curve.png", "noise_cost_won_back.png"):
        path = layout.root / name
        assert path.read_bytes().startswith(PNG_SIGNATURE) and path.stat().st_size > 5_000


def test_every_corpus_and_arm_has_a_definition():
    assert {corpus.noise_rate for corpus in PRETRAINING_CORPORA.values()} == {0.0, 0.3, 0.5, None}
    assert not PRETRAINING_CORPORA["clean"].has_noise_mask and PRETRAINING_CORPORA["noise_0.3"].has_noise_mask
    assert ARMS["erica"].weighting == "uniform" and ARMS["finecl"].weighting == "paper"


def test_a_run_resumed_from_committed_state_skips_what_its_probes_already_hold(tmp_path):
    """On a fresh machine only the small files (probes, stage-1 reports) of an earlier session exist: a probed arm's
    pre-training and a fully probed corpus's stage 1 are not run again; an unprobed arm's are."""
    args = reproduce.ReproduceArguments(preset="full", corpora=["noise_0.3"], budget_curve_interval=0)
    steps = {step.title.split(",")[0]: step for step in reproduce.build_steps(args, tmp_path, "/m", Path("/data"))}
    layout = reproduce.ReproductionLayout(tmp_path)
    (tmp_path / "stage1" / "noise_0.3").mkdir(parents=True)
    (tmp_path / "stage1" / "noise_0.3" / "learning_order_report.json").write_text("{}")
    keys = [arm.key for arm in args.planned_arms()]
    for key in keys[:-1]:
        reproduce.probe_marker(layout, key).parent.mkdir(parents=True)
        reproduce.probe_marker(layout, key).write_text("{}")
    stage1 = next(step for title, step in steps.items() if title.startswith("stage 1: learning order"))
    assert not stage1.finished()  # one arm still needs the learning order
    assert steps[f"stage 2: {keys[0]}"].finished() and steps[f"probe: {keys[0]}"].finished()
    assert not steps[f"stage 2: {keys[-1]}"].finished()
    reproduce.probe_marker(layout, keys[-1]).parent.mkdir(parents=True)
    reproduce.probe_marker(layout, keys[-1]).write_text("{}")
    assert stage1.finished() and stage1.marker.name == "learning_order_report.json"


def test_every_stage_step_runs_from_an_argument_file_that_parses_to_its_command(tmp_path):
    from finecl_hf.experiments.steps import stage_parser, with_argument_file

    steps = plan(preset="full", fine_tune_corpora=["noise_0.5"], train_fractions=[0.01], finetune_epochs_per_fraction=[10])
    converted = 0
    for step in steps:
        found = stage_parser(step.command)
        rewritten = with_argument_file(step.title, step.command, tmp_path)
        if found is None:
            assert rewritten == step.command  # data steps, convert and analyse keep their command line
            continue
        parser, name, argv = found
        assert rewritten[-2] == name and rewritten[-1].endswith(".json")
        assert parser.parse([rewritten[-1]]) == parser.parse(argv), step.title
        converted += 1
    assert converted >= 40  # every stage-1, stage-2, probe and fine-tuning step
    assert len(list(tmp_path.glob("*.json"))) == converted  # one file per step
