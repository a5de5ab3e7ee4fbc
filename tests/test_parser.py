"""`FineCLArgumentParser`, the one parser of every dataclass-driven `finecl` command: a misspelt option or argument-file
key is a usage error naming the closest valid option, argparse's own mistakes print one usage line (not the whole
option list), and an argument file is read the same way by every command."""

from __future__ import annotations

import json

import pytest

from finecl_hf.commands import run_command
from finecl_hf.commands.front_door import USAGE_EXIT_STATUS

COMMANDS_WITH_DATACLASSES = ["learning-order", "pretrain", "finetune", "probe", "demo", "reproduce"]


def fail(command: str, arguments: list[str], capsys) -> str:
    """Run `finecl <command> arguments`, expect exit 2, return stderr."""
    with pytest.raises(SystemExit) as raised:
        run_command(command, arguments)
    assert raised.value.code == USAGE_EXIT_STATUS
    return capsys.readouterr().err


@pytest.mark.parametrize("command", COMMANDS_WITH_DATACLASSES)
def test_a_misspelt_option_names_the_closest_one(command, capsys):
    error = fail(command, ["--output_dirr", "somewhere"], capsys)
    assert "unknown option(s) '--output_dirr' (did you mean --output_dir?)" in error
    assert f"finecl {command}: error:" in error and len(error.strip().splitlines()) == 1


def test_the_option_transformers_5_dropped_says_what_replaced_it(tmp_path, capsys):
    error = fail("pretrain", ["--learning_order_dataset", str(tmp_path), "--warmup_ratio", "0.1"], capsys)
    assert "'--warmup_ratio'" in error and "--warmup_steps a ratio below 1" in error


@pytest.mark.parametrize(
    ("command", "arguments", "names"),
    [
        ("probe", ["--model_name_or_path", "m", "--num_draws", "many"], ["--num_draws", "invalid int value: 'many'"]),
        ("reproduce", ["--pretrain_seeds", "42", "x"], ["--pretrain_seeds", "invalid int value: 'x'"]),
        ("learning-order", ["--dataset_path"], ["--dataset_path", "expected one argument"]),
    ],
)
def test_a_mistyped_value_prints_one_usage_line_and_the_error(command, arguments, names, capsys):
    error = fail(command, arguments, capsys)
    lines = error.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"usage: finecl {command} [--config FILE] [--option value ...]")
    for name in names:
        assert name in lines[1]


def test_an_argument_file_with_an_unknown_key_names_the_file_and_the_closest_key(tmp_path, capsys):
    config = tmp_path / "args.json"
    config.write_text(json.dumps({"model_name_or_path": ["m"], "shot": 4}))
    error = fail("probe", [str(config)], capsys)
    assert str(config) in error and "'shot' (did you mean shots?)" in error


@pytest.mark.parametrize(("name", "text", "message"), [
    ("args.json", "{not json", "not a valid JSON argument file"),
    ("args.yaml", "- a\n- list\n", "one mapping of option names to values, got list"),
    ("missing.yaml", None, "does not exist"),
])  # fmt: skip
def test_a_broken_argument_file_is_a_usage_error(tmp_path, capsys, name, text, message):
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    error = fail("reproduce", [str(path)], capsys)
    assert str(path) in error and message in error


def test_every_command_reads_the_same_argument_file_as_its_command_line(tmp_path):
    from finecl_hf.commands.parser import FineCLArgumentParser
    from finecl_hf.experiments.reproduction import ReproduceArguments

    config = tmp_path / "args.yaml"
    config.write_text("preset: full\ncorpora: [noise_0.5]\npretrain_seeds: [1, 2]\n")
    parser = FineCLArgumentParser(ReproduceArguments, prog="finecl reproduce")
    (from_file,) = parser.parse([str(config)])
    (from_line,) = parser.parse(["--preset", "full", "--corpora", "noise_0.5", "--pretrain_seeds", "1", "2"])
    assert from_file == from_line and from_file.pretrain_steps == 300


def test_a_weighting_registered_after_import_is_a_valid_command_line_choice(monkeypatch):
    import torch

    from finecl_hf.commands.pretrain import parse_arguments
    from finecl_hf.weighting import WEIGHTING_SCHEMES, register_weighting

    monkeypatch.setitem(WEIGHTING_SCHEMES, "halves", None)  # restored after the test
    register_weighting("halves", positive_weight_in_partition=True, description="all 0.5")(
        lambda learned_epochs, **_: torch.full(learned_epochs.shape, 0.5)
    )
    base = ["--learning_order_dataset", "order", "--output_dir", "out"]
    assert parse_arguments([*base, "--weighting", "halves"]).weighting == "halves"
    with pytest.raises(ValueError, match="'halvez' is invalid: it must be one of .*'halves'"):
        parse_arguments([*base, "--weighting", "halvez"])


def test_stage1_defaults_to_the_paper_and_the_tuned_recipe_is_one_option_away(tmp_path):
    from finecl_hf.commands.learning_order import parse_arguments
    from finecl_hf.learning_order.recipes import STAGE1_RECIPES

    base = ["--dataset_path", "data", "--output_dir", str(tmp_path / "out")]

    def values(training_args):
        return {name: getattr(training_args, name) for name in STAGE1_RECIPES["paper"]}

    assert values(parse_arguments(base)[1]) == STAGE1_RECIPES["paper"]
    assert values(parse_arguments([*base, "--recipe", "tuned"])[1]) == STAGE1_RECIPES["tuned"]
    # An option given explicitly wins over the recipe, on the command line and in an argument file alike.
    data_args, training_args = parse_arguments([*base, "--recipe", "tuned", "--num_train_epochs", "4"])
    assert data_args.recipe == "tuned" and training_args.num_train_epochs == 4 and training_args.learning_rate == 5e-5
    file = tmp_path / "stage1.json"
    file.write_text(json.dumps({"dataset_path": "data", "output_dir": str(tmp_path / "out"), "recipe": "tuned",
                                "learning_rate": 1e-4}))
    _, from_file = parse_arguments([str(file)])
    assert from_file.learning_rate == 1e-4 and from_file.num_train_epochs == 3 and from_file.warmup_steps == 0


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_a_config_file_is_combined_with_command_line_overrides_that_win(tmp_path, suffix):
    from finecl_hf.commands.parser import FineCLArgumentParser
    from finecl_hf.experiments.reproduction import ReproduceArguments

    config = tmp_path / f"recipe{suffix}"
    values = {"preset": "full", "corpora": ["noise_0.5"], "pretrain_seeds": [1, 2]}
    config.write_text(json.dumps(values))  # JSON is YAML too
    parser = FineCLArgumentParser(ReproduceArguments, prog="finecl reproduce")
    (plain,) = parser.parse(["--config", str(config)])
    (overridden,) = parser.parse(["--pretrain_seeds", "7", f"--config={config}", "--corpora", "natural"])
    (from_line,) = parser.parse(["--preset", "full", "--corpora", "natural", "--pretrain_seeds", "7"])
    assert plain.pretrain_seeds == [1, 2] and plain.corpora == ["noise_0.5"]
    assert overridden == from_line  # every override won, the rest came from the file


def test_a_required_option_may_come_from_the_config_file_and_a_bad_config_is_a_usage_error(tmp_path, capsys):
    from finecl_hf.commands.pretrain import parse_arguments

    config = tmp_path / "recipe.yaml"
    config.write_text("learning_order_dataset: order\noutput_dir: out\nmax_steps: 5\n")
    args = parse_arguments(["--config", str(config), "--max_steps", "10", "--weighting", "uniform"])
    assert (args.learning_order_dataset, args.max_steps, args.weighting) == ("order", 10, "uniform")
    misspelt = str(_write(tmp_path, "max_step: 3"))
    assert "'max_step' (did you mean max_steps?)" in fail("pretrain", ["--config", misspelt], capsys)
    assert "--config needs a file" in fail("pretrain", ["--config"], capsys)
    assert "does not exist" in fail("pretrain", ["--config", str(tmp_path / "none.yaml")], capsys)


def _write(folder, text: str):
    path = folder / "bad.yaml"
    path.write_text(text)
    return path


def test_the_plain_argparse_commands_read_the_same_config_files(tmp_path):
    from pathlib import Path

    from finecl_hf.commands.config_files import parse_with_config
    from finecl_hf.commands.convert import build_parser as convert_parser
    from finecl_hf.commands.front_door import UsageError
    from finecl_hf.commands.label_issues import build_parser as label_issues_parser

    config = tmp_path / "convert.yaml"
    config.write_text(f"output: {tmp_path / 'out'}\nna_ratio: 2.0\nseed: 5\n")
    args = parse_with_config(convert_parser("docred"), ["--config", str(config), "--na-ratio", "3"])
    assert (args.output, args.na_ratio, args.seed) == (tmp_path / "out", 3.0, 5)  # typed as on the command line
    assert isinstance(args.output, Path)  # the required --output came from the file
    config.write_text("outptu: x\n")
    with pytest.raises(UsageError, match=r"convert.yaml: unknown option\(s\) \['outptu'\]"):
        parse_with_config(convert_parser("docred"), ["--config", str(config)])
    config.write_text("clean: scrub\n")
    with pytest.raises(UsageError, match="clean='scrub' is not one of"):
        parse_with_config(label_issues_parser(), ["folder", "--config", str(config)])


def test_every_option_is_snake_case_with_its_kebab_spelling_still_accepted():
    from finecl_hf.commands.convert import build_parser as convert_parser
    from finecl_hf.corpora import CORPORA

    for name in CORPORA:
        parser = convert_parser(name)
        for action in parser._actions:
            long = [option for option in action.option_strings if option.startswith("--")]
            if long:
                assert "-" not in long[0][2:], f"finecl convert {name}: {long[0]} is not snake_case"
                assert all(option.replace("-", "_")[2:] == long[0][2:] for option in long), long
    snake = convert_parser("document-noise").parse_args(["--output", "o", "--noise_rate", "0.3", "--na_ratio", "2"])
    kebab = convert_parser("document-noise").parse_args(["--output", "o", "--noise-rate", "0.3", "--na-ratio", "2"])
    assert snake == kebab and snake.noise_rate == 0.3
