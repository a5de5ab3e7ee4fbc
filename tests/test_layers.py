"""The import structure follows the method: the four stages are siblings over one shared layer.

- no stage package imports another (each is imported alone in a fresh interpreter, and the modules it pulled in are
  listed);
- nothing below the top layer imports `finecl_hf.commands` or `finecl_hf.experiments`;
- the shared layer (`finecl_hf.data`, `finecl_hf.representations`, the registries, the model) imports no stage.

docs/architecture.md draws the same layers.
"""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "finecl_hf"
STAGES = ("learning_order", "pretraining", "finetuning", "probing")
TOP = ("commands", "experiments")


def _imported_after(module: str, *attributes: str) -> set[str]:
    """The `finecl_hf` modules a fresh interpreter has imported after `import module` (and reading `attributes`)."""
    code = (
        "import importlib, json, sys\n"
        f"module = importlib.import_module({module!r})\n"
        f"for name in {list(attributes)!r}: getattr(module, name)\n"
        "print(json.dumps(sorted(name for name in sys.modules if name.startswith('finecl_hf'))))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def _package_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_imported_alone_imports_no_other_stage_and_no_upper_layer(stage):
    module = f"finecl_hf.{stage}"
    # Touch every public name too: the lazy `__init__`s import their modules only on first access.
    public = list(getattr(importlib.import_module(module), "__all__", []))
    loaded = _imported_after(module, *public)
    foreign = sorted(name for name in loaded if _package_of(name) in (set(STAGES) - {stage}) | set(TOP))
    assert foreign == [], f"{module} imports {foreign}"


def _static_imports(path: Path) -> set[str]:
    """Absolute names of the `finecl_hf` modules a file imports (at module level or inside functions)."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                names.add(f"{base}.{node.module}" if node.module else base)
            elif node.module:
                names.add(node.module)
    return {name for name in names if name.startswith("finecl_hf")}


def test_no_module_below_the_top_layer_imports_commands_or_experiments_and_no_stage_imports_a_sibling():
    offences = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = _package_of(".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts))
        if own in TOP:
            continue
        for name in _static_imports(path):
            target = _package_of(name)
            if target in TOP or (target in STAGES and own != target and own is not None and own in STAGES):
                offences.append(f"{path.relative_to(PACKAGE.parent)} -> {name}")
            elif target in STAGES and own not in STAGES and own is not None:
                offences.append(f"{path.relative_to(PACKAGE.parent)} (shared layer) -> {name}")
    assert offences == []
