"""What stage 3 saves for inference besides the model: the readable relation names of a converted dataset.

Inference itself is the `relation-extraction` pipeline (`finecl_hf.pipelines`):
`pipeline("relation-extraction", model=folder)` with `import finecl_hf`, or `trust_remote_code=True` without it.
"""

from __future__ import annotations

from pathlib import Path

from ..cards import read_dataset_card_metadata


def dataset_relation_names(dataset_path: str | Path) -> dict[str, str] | None:
    """Label -> readable name from a converted dataset's card (DocRED: P-id -> `rel_info.json` name), if it has them.

    Stage 3 stores them as `config.relation_names`, which the pipeline returns as `relation`.
    """
    if not (Path(dataset_path) / "README.md").is_file():  # a Hub id or a save_to_disk folder
        return None
    try:
        metadata = read_dataset_card_metadata(dataset_path)
    except ValueError:  # a card without finecl metadata
        return None
    names = metadata.get("relation_descriptions")
    return {str(label): str(name) for label, name in names.items()} if isinstance(names, dict) and names else None


__all__ = ["dataset_relation_names"]
