"""The `finecl` command: dispatch, the shipped `--help` texts, the front door's exit statuses, the corpus registry.

The bad-input table (`tests/reliability/test_bad_inputs.py`) drives each stage's error cases; this file checks the
command surface itself.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from finecl_hf.commands import COMMANDS, main, run_command
from finecl_hf.commands.front_door import DEBUG_ENV, UsageError
from finecl_hf.commands.help import help_file, render_help, shipped_help
from finecl_hf.corpora import CORPORA, Corpus, get_corpus

REPOSITORY = Path(__file__).resolve().parent.parent
BAD_INPUTS = REPOSITORY / "tests" / "reliability" / "bad_inputs"
PRERENDERED = [name for name, command in COMMANDS.items() if command.prerendered_help]
HEAVY_MODULES = ("torch", "transformers", "datasets", "pyarrow")


def rows_of(folder: Path, config: str = "data") -> dict[str, list]:
    """Every row of a converted folder's config, read from its Parquet files (not through `datasets`' cache)."""
    paths = sorted((folder / config).glob("*.parquet"))
    assert paths, f"no Parquet file under {folder / config}"
    return pa.concat_tables([pq.read_table(path) for path in paths]).to_pydict()


# ------------------------------------------------------------------------------------------------- the command
def test_the_console_script_is_installed_and_points_at_the_dispatcher():
    (entry,) = [e for e in importlib.metadata.entry_points(group="console_scripts") if e.name == "finecl"]
    assert entry.value == "finecl_hf.commands:main"
    assert entry.load() is main


def test_the_console_script_exits_0_after_a_command_that_returns_a_result(tmp_path):
    """The console script hands `main()`'s return value to `sys.exit`: a returned report would mean exit 1."""
    source = BAD_INPUTS / "semeval" / "bom_crlf.TXT"
    completed = subprocess.run(
        [str(Path(sys.executable).parent / "finecl"), "convert", "semeval", "--source", f"train={source}",
         "--output", str(tmp_path / "out")], capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert completed.returncode == 0 and "ConversionReport(" not in completed.stderr, completed.stderr[-2000:]
    assert "train 2 rows" in completed.stdout


FINISHED_WORKER = """
import atexit, sys
from finecl_hf.commands import run_command
atexit.register(print, "exit handlers ran")  # printed last, into the block-buffered stdout of a pipe
run_command("convert", ["semeval", "--source", "train=" + sys.argv[1], "--output", sys.argv[2]])
print("after the command")
"""


@pytest.mark.parametrize("launched", [True, False], ids=["worker", "plain"])
def test_a_finished_worker_of_a_distributed_launch_leaves_after_flushing_its_output(tmp_path, launched):
    """A launched worker ends in `run_command` (so that the interpreter's shutdown cannot abort it), after the exit
    handlers ran and the block-buffered stdout of a pipe was flushed; a plain process goes on after the command."""
    environment = {key: value for key, value in os.environ.items() if key not in ("WORLD_SIZE", "PYTHONUNBUFFERED")}
    if launched:
        environment["WORLD_SIZE"] = "1"
    source = BAD_INPUTS / "semeval" / "bom_crlf.TXT"
    completed = subprocess.run(
        [sys.executable, "-c", FINISHED_WORKER, str(source), str(tmp_path / "out")],
        capture_output=True, text=True, timeout=300, env=environment,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "train 2 rows" in completed.stdout and completed.stdout.endswith("exit handlers ran\n")
    assert ("after the command" in completed.stdout) is not launched


def test_top_level_help_lists_every_command(capsys):
    main(["--help"])
    text = capsys.readouterr().out
    for name, command in COMMANDS.items():
        assert f"  {name}" in text and command.summary in text


@pytest.mark.parametrize(("argv", "expected"), [
    (["fintune"], "unknown command 'fintune'"),  # and the suggestion below
    ([], "a command is required"),
    (["convert"], "a corpus is required"),
    (["convert", "semevall", "--output", "x"], "unknown corpus 'semevall'"),
])  # fmt: skip
def test_usage_errors_exit_2_with_one_line(argv, expected, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert expected in error and "Traceback" not in error
    if argv == ["fintune"]:
        assert "Did you mean `finetune`?" in error


# ------------------------------------------------------------------------------------------------- fast --help
@pytest.mark.parametrize("name", PRERENDERED)
def test_shipped_help_is_what_the_real_parser_renders(name):
    """The pre-rendered text cannot drift: regenerate with `python -m finecl_hf.commands.help --write`."""
    assert help_file(name).is_file(), f"run `python -m finecl_hf.commands.help --write` for {name}"
    assert shipped_help(name) == render_help(name), "stale: run `python -m finecl_hf.commands.help --write`"


@pytest.mark.parametrize("name", PRERENDERED)
def test_help_is_served_from_the_shipped_text(name, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_command(name, ["--output_dir", "x", "--help"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == help_file(name).read_text(encoding="utf-8")


def test_help_imports_nothing_heavy_beyond_the_package_itself():
    """`finecl <command> --help` must not import torch/transformers/datasets; whatever `import finecl_hf` itself
    imports is measured by the package's own start-up benchmark, so it is subtracted here."""
    probe = (
        "import sys, contextlib, io\n"
        "import finecl_hf\n"
        "before = set(sys.modules)\n"
        "from finecl_hf.commands import main\n"
        f"for name in {[*PRERENDERED, 'analyse']!r}:\n"
        "    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "        main([name, '--help'])\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    main(['convert', 'semeval', '--help'])\n"
        "new = {m.split('.')[0] for m in set(sys.modules) - before}\n"
        f"print(sorted(new & set({list(HEAVY_MODULES)!r})))\n"
    )
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPOSITORY,
                               timeout=120, check=True)
    assert completed.stdout.strip() == "[]", completed.stdout


def test_the_module_forms_answer_like_the_command():
    """`python -m finecl_hf.commands.<module>` (what `accelerate launch -m` runs) and the `trainers/` wrapper."""
    expected = help_file("pretrain").read_text(encoding="utf-8")
    for command in (
        [sys.executable, "-m", "finecl_hf.commands.pretrain", "--help"],
        [sys.executable, "-m", "finecl_hf.commands", "pretrain", "--help"],
        [sys.executable, str(REPOSITORY / "trainers" / "pretrain.py"), "--help"],
    ):
        completed = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert completed.returncode == 0 and completed.stdout == expected, (command, completed.stderr[-2000:])


@pytest.mark.slow
def test_accelerate_launch_runs_the_module_form():
    completed = subprocess.run(
        [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1", "--cpu", "--num_machines", "1",
         "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "finecl_hf.commands.finetune", "--help"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.startswith("usage: finecl finetune")


# ------------------------------------------------------------------------------------------------- front door
def test_debug_shows_the_traceback_of_a_usage_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(DEBUG_ENV, "0")  # restored after the test: `--debug` sets it for the whole process
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "README.md").write_text("---\nconfigs: []\n---\n")  # looks like a dataset folder
    arguments = ["finetune", "--model_name_or_path", str(tmp_path / "missing"), "--dataset_path",
                 str(tmp_path / "data"), "--output_dir", str(tmp_path / "out")]  # fmt: skip
    with pytest.raises(SystemExit) as exit_info:
        main(arguments)
    assert exit_info.value.code == 2
    assert f"finecl finetune: error: --model_name_or_path {tmp_path / 'missing'}: no such folder" in capsys.readouterr().err
    with pytest.raises(UsageError, match="no such folder"):
        main(["--debug", *arguments])
    assert os.environ[DEBUG_ENV] == "1"


def test_a_data_error_exits_1_with_one_line_naming_file_record_and_line(tmp_path, capsys):
    source = BAD_INPUTS / "semeval" / "bom_crlf_reversed_markers.TXT"
    with pytest.raises(SystemExit) as exit_info:
        main(["convert", "semeval", "--source", f"train={source}", "--output", str(tmp_path / "out")])
    assert exit_info.value.code == (
        f"error: {source}: record 2 (id '2', line 5), field 'sentence': </e1> comes before <e1>"
    )
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------------------- converters
def test_a_semeval_file_with_a_byte_order_mark_and_crlf_converts_like_the_plain_file(tmp_path, capsys):
    windows = BAD_INPUTS / "semeval" / "bom_crlf.TXT"
    raw = windows.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw  # the fixture is what a Windows editor saves
    plain = tmp_path / "plain.TXT"
    plain.write_bytes(raw[3:].replace(b"\r\n", b"\n"))
    for name, source in (("windows", windows), ("plain", plain)):
        main(["convert", "semeval", "--source", f"train={source}", "--output", str(tmp_path / name)])
    windows_rows, plain_rows = rows_of(tmp_path / "windows"), rows_of(tmp_path / "plain")
    assert windows_rows == plain_rows
    assert windows_rows["id"] == ["1", "2"]  # the BOM did not stick to the first id
    assert windows_rows["tokens"][1][-1] == "."  # no stray "\r" token


def test_every_registered_corpus_has_a_parser_and_an_importable_converter():
    from finecl_hf.commands.convert import build_parser

    for name, corpus in CORPORA.items():
        parser = build_parser(name)
        assert parser.prog == f"finecl convert {name}"
        assert callable(corpus.load_converter())
        for alias in corpus.aliases:
            assert get_corpus(alias) is corpus


def convert_toy(sources, output_dir, *, skip_invalid=False, overwrite=False, lowercase=False):
    """A toy corpus: one sentence per line, `head<TAB>tail<TAB>relation<TAB>sentence`, entities as word indices."""
    from finecl_hf.data.conversion import CorpusInfo
    from finecl_hf.data.invalid_records import InvalidRecordError
    from finecl_hf.data.readers import iter_lines
    from finecl_hf.data.sentences import convert_sentence_corpus

    def parse(line: str, position: int, source: Path) -> dict:
        head, tail, relation, sentence = line.split("\t")
        tokens = sentence.lower().split() if lowercase else sentence.split()
        if int(tail) >= len(tokens):
            raise InvalidRecordError(source, position, "tail", f"index {tail} is outside the sentence")
        return {"id": str(position), "tokens": tokens, "relation": relation,
                "head": {"name": tokens[int(head)], "start": int(head), "end": int(head) + 1, "type": None},
                "tail": {"name": tokens[int(tail)], "start": int(tail), "end": int(tail) + 1, "type": None}}

    info = CorpusInfo(name="toy", pretty_name="Toy", summary="A toy corpus.", license="cc0-1.0")
    return convert_sentence_corpus(sources, iter_lines, parse, ["none", "part_of"], info, output_dir,
                                   converter="tests/test_cli.py", skip_invalid=skip_invalid, overwrite=overwrite)


def test_a_toy_corpus_is_added_through_the_registry_alone(tmp_path, monkeypatch, capsys):
    def add_arguments(parser):
        parser.add_argument("--lowercase", action="store_true", help="Lower-case every word.")

    monkeypatch.setitem(CORPORA, "toy", Corpus(
        name="toy", description="A toy corpus for the registry test.", converter=convert_toy,
        known_files={"toy_train.tsv": "train"}, default_source=None, source_help="Toy TSV files, or their folder.",
        add_arguments=add_arguments, options=lambda args, sources: {"lowercase": args.lowercase}, aliases=("toys",),
    ))  # fmt: skip
    corpus_dir = tmp_path / "toy"
    corpus_dir.mkdir()
    (corpus_dir / "toy_train.tsv").write_text("0\t2\tpart_of\tWheel Of Car\n2\t0\tnone\tThe Sun Rises\n")

    with pytest.raises(SystemExit):
        main(["convert", "--help"])
    assert "A toy corpus for the registry test." in capsys.readouterr().out
    main(["convert", "toys", "--source", str(corpus_dir), "--output", str(tmp_path / "out"), "--lowercase"])
    rows = rows_of(tmp_path / "out")
    assert rows["tokens"] == [["wheel", "of", "car"], ["the", "sun", "rises"]]
    assert rows["relation"] == [1, 0] and rows["head"][0]["name"] == "wheel"
    card = (tmp_path / "out" / "README.md").read_text()
    assert "Toy" in card

    (corpus_dir / "toy_train.tsv").write_text("0\t1\tpart_of\tWheel Of\n0\t7\tnone\tThe Sun\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["convert", "toy", "--source", str(corpus_dir), "--output", str(tmp_path / "bad")])
    assert exit_info.value.code == f"error: {corpus_dir / 'toy_train.tsv'}: record 2, field 'tail': index 7 is outside the sentence"


def test_a_value_refused_by_training_arguments_is_a_usage_error_too(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["finetune", "--model_name_or_path", "unused", "--dataset_path", str(tmp_path), "--output_dir",
              str(tmp_path / "out"), "--load_best_model_at_end", "--eval_strategy", "steps", "--save_strategy", "epoch"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "finecl finetune: error: --load_best_model_at_end requires the save and eval strategy to match" in error


def test_the_exit_status_follows_the_error_class_not_where_it_was_raised():
    from finecl_hf.commands.front_door import DATA_EXIT_STATUS, USAGE_EXIT_STATUS, exit_status_of
    from finecl_hf.errors import DataError

    assert exit_status_of(UsageError("--x 1"), parsing=False) == USAGE_EXIT_STATUS
    assert exit_status_of(DataError("f: record 1"), parsing=False) == DATA_EXIT_STATUS
    assert exit_status_of(DataError("f: record 1"), parsing=True) == DATA_EXIT_STATUS
    # While parsing, any ValueError is an argument dataclass refusing a value (finecl-hf's or TrainingArguments').
    assert exit_status_of(ValueError("lr=-1"), parsing=True) == USAGE_EXIT_STATUS
    # After parsing, an untyped error is a bug or an unchecked input, wherever it was raised: it keeps its traceback.
    try:
        raise ValueError("an internal invariant")  # raised right here, i.e. by finecl-hf's own test code
    except ValueError as error:
        assert exit_status_of(error, parsing=False) is None
    assert exit_status_of(OSError("disk full"), parsing=False) is None
