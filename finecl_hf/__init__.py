"""finecl-hf: FineCL (fine-grained contrastive learning for relation extraction) for the Hugging Face ecosystem.

Importing the package registers FineCL with transformers, so no `trust_remote_code` is needed:

- `AutoConfig` → `FineCLConfig`; `AutoModel` → `FineCLModel` (bare encoder + entity pooling);
  `AutoModelForPreTraining` → `FineCLForPreTraining`; `AutoModelForSequenceClassification` →
  `FineCLForRelationExtraction`;
- the `relation-extraction` pipeline (`RelationExtractionPipeline`): `pipeline("relation-extraction", model=folder)`.

Submodules and classes are imported on first use (transformers' `_LazyModule`), so `import finecl_hf` costs little
more than importing torch and transformers: the Auto classes get lazy stand-ins that import `finecl_hf.modeling` when a
model is built, and the pipeline is registered when `transformers.pipelines` is first imported.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from typing import TYPE_CHECKING, Any

from transformers import AutoConfig, AutoModel, AutoModelForPreTraining, AutoModelForSequenceClassification
from transformers.utils.import_utils import _LazyModule

from .configuration import FineCLConfig

__version__ = "0.1.0"

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


class _LazyModelClass:
    """Stands in for a FineCL model class in an Auto class's mapping until it is used.

    `finecl_hf.modeling` needs `transformers.modeling_utils` (≈2 s to import); the Auto classes only read
    `config_class`, `__name__` and `__module__` before calling `from_pretrained`/`_from_config`, which import it.
    """

    def __init__(self, name: str):
        self.__name__ = self.__qualname__ = name
        self.__module__ = f"{__name__}.modeling"
        self.config_class = FineCLConfig

    def resolve(self) -> type:
        return getattr(importlib.import_module(".modeling", __name__), self.__name__)

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.resolve(), attribute)

    def __call__(self, *args, **kwargs):
        return self.resolve()(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<lazy {self.__module__}.{self.__name__}>"


def _register_auto_classes() -> None:
    AutoConfig.register(FineCLConfig.model_type, FineCLConfig, exist_ok=True)
    for auto_class, name in (
        (AutoModel, "FineCLModel"),
        (AutoModelForPreTraining, "FineCLForPreTraining"),
        (AutoModelForSequenceClassification, "FineCLForRelationExtraction"),
    ):
        auto_class.register(FineCLConfig, _LazyModelClass(name), exist_ok=True)


def register_pipeline() -> None:
    """Register `relation-extraction` with transformers' `PIPELINE_REGISTRY` (imports the pipeline and the model)."""
    from transformers.pipelines import PIPELINE_REGISTRY

    from .modeling import FineCLForRelationExtraction
    from .pipelines import RelationExtractionPipeline

    if PIPELINE_REGISTRY.supported_tasks.get(PIPELINE_TASK, {}).get("impl") is not RelationExtractionPipeline:
        PIPELINE_REGISTRY.register_pipeline(
            PIPELINE_TASK, pipeline_class=RelationExtractionPipeline, pt_model=FineCLForRelationExtraction, type="text"
        )


class _RegisterWhenPipelinesLoad(importlib.abc.MetaPathFinder):
    """Registers the pipeline once `transformers.pipelines` (≈2 s to import, so not before) and `finecl_hf.pipelines`
    can both be imported: right after the first of them finishes loading (importing `finecl_hf.pipelines` imports
    `transformers.pipelines` on the way, so registration then waits for `finecl_hf.pipelines` to finish)."""

    watched = ("transformers.pipelines", f"{__name__}.pipelines")

    def find_spec(self, fullname, path, target=None):
        if fullname not in self.watched:
            return None
        sys.meta_path.remove(self)  # let the normal finders locate the real module
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(0, self)
        if spec is not None and spec.loader is not None:
            spec.loader = _RegisteringLoader(spec.loader, self)
        return spec

    def loaded(self) -> None:
        if "transformers.pipelines" not in sys.modules:
            return
        ours = sys.modules.get(f"{__name__}.pipelines")
        if ours is not None and not hasattr(ours, "RelationExtractionPipeline"):
            return  # still initialising: called again when it is done
        sys.meta_path[:] = [finder for finder in sys.meta_path if finder is not self]
        register_pipeline()


class _RegisteringLoader(importlib.abc.Loader):
    def __init__(self, loader, finder: _RegisterWhenPipelinesLoad):
        self.loader, self.finder = loader, finder

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        self.finder.loaded()


def _register_pipeline_when_available() -> None:
    if "transformers.pipelines" in sys.modules:
        register_pipeline()
    elif not any(isinstance(finder, _RegisterWhenPipelinesLoad) for finder in sys.meta_path):
        sys.meta_path.insert(0, _RegisterWhenPipelinesLoad())


_register_auto_classes()
_register_pipeline_when_available()

sys.modules[__name__] = _LazyModule(
    __name__,
    globals()["__file__"],
    _import_structure,
    module_spec=__spec__,
    extra_objects={
        "__version__": __version__,
        "FineCLConfig": FineCLConfig,
        "PIPELINE_TASK": PIPELINE_TASK,
        "register_pipeline": register_pipeline,
    },
)
