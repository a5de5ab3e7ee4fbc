"""finecl-hf: FineCL (fine-grained contrastive learning for relation extraction) for the Hugging Face ecosystem.

Importing the package registers FineCL with transformers, so no `trust_remote_code` is needed:

- `AutoConfig` → `FineCLConfig`; `AutoModel` → `FineCLModel` (bare encoder + entity pooling);
  `AutoModelForPreTraining` → `FineCLForPreTraining`; `AutoModelForSequenceClassification` →
  `FineCLForRelationExtraction`;
- the `relation-extraction` pipeline (`RelationExtractionPipeline`): `pipeline("relation-extraction", model=folder)`.

Submodules and classes are imported on first use (a module `__getattr__`, PEP 562), so `import finecl_hf` imports
neither torch nor transformers, and `finecl --help` answers before either is loaded: the registrations run when the
transformers modules they extend are first imported (`transformers.models.auto` for the Auto classes,
`transformers.pipelines` for the pipeline; the import hook below), and the Auto classes get lazy stand-ins that import
`finecl_hf.modeling` when a model is built.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from typing import TYPE_CHECKING, Any

from ._lazy import lazy_attributes

__version__ = "0.1.0"
"""The version of the installed finecl-hf package."""

_import_structure = {
    "configuration": ["FineCLConfig"],
    "modeling": [
        "FineCLForPreTraining",
        "FineCLForRelationExtraction",
        "FineCLModel",
        "FineCLModelOutput",
        "FineCLPreTrainedModel",
        "FineCLPreTrainingOutput",
        "IncompatibleCheckpointError",
        "RelationExtractionOutput",
    ],
    "pipelines": ["RelationExtractionPipeline"],
    "weighting": ["WEIGHTING_SCHEMES", "WeightingScheme", "register_weighting"],
}

if TYPE_CHECKING:
    from .configuration import FineCLConfig
    from .modeling import (
        FineCLForPreTraining,
        FineCLForRelationExtraction,
        FineCLModel,
        FineCLModelOutput,
        FineCLPreTrainedModel,
        FineCLPreTrainingOutput,
        IncompatibleCheckpointError,
        RelationExtractionOutput,
    )
    from .pipelines import RelationExtractionPipeline
    from .weighting import WEIGHTING_SCHEMES, WeightingScheme, register_weighting

PIPELINE_TASK = "relation-extraction"
"""The task name of `RelationExtractionPipeline`: `pipeline(PIPELINE_TASK, model=folder)`."""


class _LazyModelClass:
    """Stands in for a FineCL model class in an Auto class's mapping until it is used.

    `finecl_hf.modeling` needs `transformers.modeling_utils` (≈2 s to import); the Auto classes only read
    `config_class`, `__name__` and `__module__` before calling `from_pretrained`/`_from_config`, which import it.
    """

    def __init__(self, name: str, config_class: type):
        self.__name__ = self.__qualname__ = name
        self.__module__ = f"{__name__}.modeling"
        self.config_class = config_class

    def resolve(self) -> type:
        return getattr(importlib.import_module(".modeling", __name__), self.__name__)

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.resolve(), attribute)

    def __call__(self, *args, **kwargs):
        return self.resolve()(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<lazy {self.__module__}.{self.__name__}>"


def register_auto_classes() -> None:
    """Register `FineCLConfig` with `AutoConfig` and the FineCL models with `AutoModel`, `AutoModelForPreTraining` and
    `AutoModelForSequenceClassification` (lazy stand-ins: the modelling code is imported when a model is built)."""
    from transformers import AutoConfig, AutoModel, AutoModelForPreTraining, AutoModelForSequenceClassification

    from .configuration import FineCLConfig

    AutoConfig.register(FineCLConfig.model_type, FineCLConfig, exist_ok=True)
    for auto_class, name in (
        (AutoModel, "FineCLModel"),
        (AutoModelForPreTraining, "FineCLForPreTraining"),
        (AutoModelForSequenceClassification, "FineCLForRelationExtraction"),
    ):
        auto_class.register(FineCLConfig, _LazyModelClass(name, FineCLConfig), exist_ok=True)


def register_pipeline() -> None:
    """Register `relation-extraction` with transformers' `PIPELINE_REGISTRY` (imports the pipeline and the model)."""
    from transformers.pipelines import PIPELINE_REGISTRY

    from .modeling import FineCLForRelationExtraction
    from .pipelines import RelationExtractionPipeline

    if PIPELINE_REGISTRY.supported_tasks.get(PIPELINE_TASK, {}).get("impl") is not RelationExtractionPipeline:
        PIPELINE_REGISTRY.register_pipeline(
            PIPELINE_TASK, pipeline_class=RelationExtractionPipeline, pt_model=FineCLForRelationExtraction, type="text"
        )


# Each registration runs once the modules it needs are imported — by the user, who pays for them anyway — so that
# `import finecl_hf` itself imports neither `transformers.models` (≈1 s: it indexes every model file) nor
# `transformers.pipelines` (≈2 s). A registration needing one of our own modules waits until that module has finished
# importing (it may be the one importing transformers' module).
_REGISTRATIONS = {
    "auto classes": (("transformers.models.auto", f"{__name__}.configuration"), register_auto_classes),
    "pipeline": (("transformers.pipelines", f"{__name__}.pipelines", f"{__name__}.modeling"), register_pipeline),
}
_TRIGGERS = {"transformers.models.auto": "auto classes", "transformers.pipelines": "pipeline"}


def _importing(name: str) -> bool:
    module = sys.modules.get(name)
    return module is not None and getattr(getattr(module, "__spec__", None), "_initializing", False)


class _RegisterOnImport(importlib.abc.MetaPathFinder):
    """Runs the pending registrations after the modules they need finish importing (a post-import hook)."""

    def __init__(self):
        self.pending = dict(_REGISTRATIONS)
        self.watched = {name for modules, _ in self.pending.values() for name in modules}

    def find_spec(self, fullname, path, target=None):
        if fullname not in self.watched:
            return None
        sys.meta_path.remove(self)  # let the normal finders locate the real module
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(0, self)
        if spec is not None and spec.loader is not None:
            spec.loader = _NotifyingLoader(spec.loader, self, fullname)
        return spec

    def run_ready(self, just_loaded: str | None = None) -> None:
        for label, (modules, register) in list(self.pending.items()):
            trigger = modules[0]
            if label not in self.pending:  # done by a nested call (registering imports watched modules)
                continue
            if trigger not in sys.modules or any(_importing(name) for name in modules if name != just_loaded):
                continue
            del self.pending[label]
            register()
        if not self.pending and self in sys.meta_path:
            sys.meta_path.remove(self)


class _NotifyingLoader(importlib.abc.Loader):
    def __init__(self, loader, finder: _RegisterOnImport, name: str):
        self.loader, self.finder, self.name = loader, finder, name

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        self.finder.run_ready(just_loaded=self.name)


if not any(isinstance(finder, _RegisterOnImport) for finder in sys.meta_path):
    _finder = _RegisterOnImport()
    sys.meta_path.insert(0, _finder)
    _finder.run_ready()  # transformers' modules imported before finecl_hf: register now

# Public name -> the submodule that defines it, imported on first access.
_ATTRIBUTE_MODULES = {name: module for module, names in _import_structure.items() for name in names}

# Submodules (e.g. finecl_hf.modeling) are attributes too.
__getattr__, __dir__ = lazy_attributes(__name__, _ATTRIBUTE_MODULES, globals(), submodules=_import_structure)


__all__ = ["PIPELINE_TASK", "__version__", "register_auto_classes", "register_pipeline", *_ATTRIBUTE_MODULES]
