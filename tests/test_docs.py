"""The documentation: the site builds in strict mode (a broken link, a missing anchor or a docstring griffe cannot read
fails), every public name of `finecl_hf` has a rendered docstring, the README is a front page whose links resolve,
and every number of its results table equals the `results.json` it cites."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import finecl_hf

REPOSITORY = Path(__file__).resolve().parents[1]
README = REPOSITORY / "README.md"
API_PAGES = sorted((REPOSITORY / "docs" / "api").glob("*.md"))
DIRECTIVE = re.compile(r"^::: ([\w.]+)$", re.MULTILINE)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site built by `mkdocs build --strict` (what `make docs` runs), into a temporary folder."""
    site_dir = tmp_path_factory.mktemp("site")
    completed = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=600, env={"NO_MKDOCS_2_WARNING": "1", "PATH": ""},
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-4000:]
    return site_dir


def documented_paths() -> dict[str, str]:
    """Last name -> dotted path of every `::: path` directive of the API pages."""
    return {path.rsplit(".", 1)[-1]: path for page in API_PAGES for path in DIRECTIVE.findall(page.read_text())}


def resolve(path: str):
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize("name", finecl_hf.__all__)
def test_every_public_name_has_a_rendered_docstring(name, site):
    path = documented_paths().get(name)
    assert path is not None, f"finecl_hf.{name} is in no `::: path` directive of docs/api/*.md"
    if not isinstance(getattr(finecl_hf, name), (str, dict)):  # constants carry attribute docstrings (source only)
        assert inspect.getdoc(resolve(path)), f"{path} has no docstring"
    pages = "".join(page.read_text() for page in site.joinpath("api").rglob("*.html"))
    anchor = f'id="{path}"'
    assert anchor in pages, f"{path} is not rendered in the API reference"
    rendered = pages.split(anchor, 1)[1][:6000]
    assert "doc-contents" in rendered and re.search(r"<p>\S", rendered), f"{path} renders no docstring"


def test_the_readme_is_a_front_page_whose_links_resolve():
    text = README.read_text()
    assert len(text.splitlines()) <= 200
    for target in LINK.findall(text):
        if target.startswith(("http://", "https://", "#")):
            continue
        assert (REPOSITORY / target.split("#")[0]).exists(), f"README links to a missing file: {target}"


def results_table_rows() -> list[tuple[str, list[str], str]]:
    """(row label, the figures it prints, the results.json it cites) of the README's results table."""
    text = README.read_text()
    table = text.split("<!-- results table: checked by tests/test_docs.py -->", 1)[1].split("\n\n", 1)[0]
    rows = []
    for line in table.strip().splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        cited = LINK.findall(cells[-1])
        assert cited, f"a results row cites no results.json: {line}"
        rows.append((cells[0], cells[1:-1], cited[0]))
    return rows


NUMBER = re.compile(r"[−+-]?\d+(?:\.\d+)?")


def numbers(text: str) -> list[float]:
    return [float(value.replace("−", "-")) for value in NUMBER.findall(text)]


def test_every_number_of_the_readme_results_table_equals_the_results_json_it_cites():
    rows = results_table_rows()
    assert rows
    for label, figures, cited in rows:
        data = json.loads((REPOSITORY / cited).read_text())
        expected = expected_figures(label, data)
        printed = numbers(" ".join(figures))
        assert printed == pytest.approx(expected, abs=0.005), f"{label}: README {printed}, {cited} {expected}"


def expected_figures(label: str, data: dict) -> list[float]:
    """The figures a row prints, read from its results.json: a paired comparison (`corpus: A − B`) prints
    difference, CI low, CI high, the number of seeds and each seed's difference; a detector row (`detector: corpus`)
    prints each score's ROC-AUC and interval."""
    if label.startswith("label issues"):
        spec = importlib.util.spec_from_file_location("readme_results_table", REPOSITORY / "benchmarks" / "readme_results_table.py")
        table = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(table)
        corpus = re.search(r"`([^`]+)`", label).group(1)
        (row,) = [row for row in data["rows"] if row["corpus"] == corpus]
        return [row[key] for keys in table.LABEL_ISSUE_FIGURES.values() for key in keys]
    if label.startswith("detector"):
        corpus = re.search(r"`([^`]+)`", label).group(1)
        by_score = {row["score"]: row for row in data["rows"] if row["corpus"] == corpus}
        return [value for score in ("combined", "learned_epoch") for value in
                (by_score[score]["roc_auc"], by_score[score]["roc_auc_low"], by_score[score]["roc_auc_high"])]
    corpus, a, b = re.match(r"`([^`]+)`: `([^`]+)` − `([^`]+)`", label).groups()
    (comparison,) = [row for row in data["comparisons"] if (row["corpus"], row["probe"], row["a"], row["b"]) ==
                     (corpus, "wiki80", a, b)]  # fmt: skip
    return [comparison["difference"], comparison["ci_low"], comparison["ci_high"], float(len(comparison["seeds"])),
            *(seed["difference"] for seed in comparison.get("per_seed", []))]


def test_results_hold_one_folder_per_experiment_each_with_its_readme():
    """Nothing at the top of docs/results/ but the index and one folder per experiment; every folder (archived ones
    too) has a README naming the command, the date, the machine and the wall time; archived ones say what replaced
    them."""
    results = REPOSITORY / "docs" / "results"
    assert {path.name for path in results.iterdir() if path.is_file()} == {"index.md"}
    folders = [path for path in results.iterdir() if path.is_dir() and path.name != "archive"]
    folders += [path for path in (results / "archive").iterdir() if path.is_dir()]
    for folder in folders:
        readme = (folder / "README.md").read_text()
        for field in ("- Command:", "- Date:", "- Machine:", "- Wall time:"):
            assert field in readme, f"{folder.relative_to(REPOSITORY)}/README.md lacks {field!r}"
        if folder.parent.name == "archive":
            assert "**Replaced by**" in readme, f"{folder.name}: say what replaced it"
    index = (results / "index.md").read_text()
    assert all(f"({folder.name}/README.md)" in index for folder in folders if folder.parent == results)


def _fenced(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README.read_text(), re.MULTILINE | re.DOTALL)


def _parse_command_line(argv: list[str]) -> None:
    """Parse a `finecl` command line with its command's own parser, running nothing."""
    from finecl_hf.commands import COMMANDS
    from finecl_hf.commands.config_files import parse_with_config

    name, rest = argv[0], argv[1:]
    module = COMMANDS[name].load()
    if name == "convert":
        parse_with_config(module.build_parser(rest[0]), rest[1:])
    elif COMMANDS[name].prerendered_help and name != "analyse":
        module.build_parser().parse(rest)
    else:
        parse_with_config(module.build_parser(), rest)


def test_every_command_line_and_import_the_readme_publishes_still_works():
    """The quick start's imports run; every `finecl` line of the README's shell blocks parses with its command's own
    parser (nothing is run); the `accelerate launch -m` module and the two `make` targets exist."""
    imports = [line.split("#")[0] for block in _fenced("python") for line in block.splitlines()
               if line.startswith(("import ", "from "))]  # fmt: skip
    assert imports, "the README's quick start has no import"
    for line in imports:
        exec(line, {})  # noqa: S102 - the README's own import lines
    shell = "\n".join(_fenced("bash")).replace("\\\n", " ")
    lines = [line.split("#")[0].split() for line in shell.splitlines()]
    finecl_lines = [line[1:] for line in lines if line and line[0] == "finecl"]
    assert len(finecl_lines) >= 6, finecl_lines
    for argv in finecl_lines:
        _parse_command_line(argv)
    assert importlib.util.find_spec("finecl_hf.commands.pretrain") is not None  # `accelerate launch -m ...`
    makefile = (REPOSITORY / "Makefile").read_text()
    for target in re.findall(r"^make (\w[\w-]*)", "\n".join(_fenced("bash")), re.MULTILINE):
        assert re.search(rf"^{target}:", makefile, re.MULTILINE), f"README names `make {target}`, which is no target"
