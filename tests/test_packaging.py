"""The wheel ships every subpackage: `pyproject.toml` lists packages explicitly, and an editable install (what the
tests run on) would hide a missing entry, since it resolves subpackages through the source tree."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent


def test_every_subpackage_of_finecl_hf_is_listed_in_pyproject():
    project = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())
    listed = set(project["tool"]["setuptools"]["packages"])
    on_disk = {
        ".".join(init.parent.relative_to(REPOSITORY).parts)
        for init in (REPOSITORY / "finecl_hf").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert on_disk - listed == set(), f"subpackages missing from [tool.setuptools] packages: {sorted(on_disk - listed)}"
