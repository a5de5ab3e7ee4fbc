"""What `finecl reproduce` reports: every probe and paired comparison (`results.json`), the Markdown tables
(`results.md`) and the plots, built from whatever steps have finished (an interrupted run reports its whole arms).

Three modules do the work: `report_collection` (reads what the steps wrote and compares), `report_markdown` and
`report_plots` (render the collected results); this one writes them.
"""

from __future__ import annotations

import json
import math
from typing import Any

from .report_collection import collect
from .report_markdown import render_markdown
from .report_plots import plot_results
from .reproduction_plan import ReproduceArguments, ReproductionLayout

def strict_json(value: Any) -> Any:
    """`value` with every NaN or infinity replaced by None, so that results.json is valid JSON for any reader (a
    ROC-AUC of a corpus without wrong labels is undefined)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: strict_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(item) for item in value]
    return value


def write_report(
    args: ReproduceArguments, layout: ReproductionLayout, backbone: str, seconds: dict[str, float]
) -> dict[str, Any]:
    root = layout.root
    results = collect(args, layout, backbone, seconds)
    (root / "results.json").write_text(json.dumps(strict_json(results), indent=2, allow_nan=False) + "\n")
    markdown = render_markdown(results)
    (root / "results.md").write_text(markdown)
    plots = plot_results(results, root)
    print("\n" + markdown)
    print("Written: " + ", ".join(str(path) for path in [root / "results.md", root / "results.json", *plots]))
    return results


__all__ = ["strict_json", "write_report"]
