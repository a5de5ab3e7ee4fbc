"""Module-level `__getattr__`/`__dir__` (PEP 562) that import a package's public names on first access.

One helper for every lazy `__init__` of the package (the top level, `learning_order`, `pretraining`), so that reading
a learning-order dataset or parsing a command never imports the trainers (or transformers) it does not use.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any


def lazy_attributes(
    package: str, attribute_modules: dict[str, str], namespace: MutableMapping[str, Any], submodules: Iterable[str] = ()
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The `(__getattr__, __dir__)` pair of `package`.

    `attribute_modules` maps a public name to the submodule (relative to `package`) that defines it; `submodules` are
    names importable as attributes themselves (`finecl_hf.modeling`). A resolved name is stored in `namespace` (the
    package's `globals()`), so later accesses skip `__getattr__`.
    """
    submodules = frozenset(submodules)

    def __getattr__(name: str) -> Any:
        if name in submodules:
            return importlib.import_module(f".{name}", package)
        module = attribute_modules.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{module}", package), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *attribute_modules, *submodules})

    return __getattr__, __dir__
