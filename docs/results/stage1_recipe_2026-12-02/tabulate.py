"""Tabulate the stage-1 recipe sweep from the exported learning-order datasets (tuning evaluations).

    python tabulate.py <results folder> <the benchmark's --output_dir>
"""
import glob, json, sys
import numpy as np
import pyarrow.parquet as pq
from sklearn.metrics import roc_auc_score
from finecl_hf.learning_order.scores import SCORES, cleanliness

RUNS = sys.argv[2] if len(sys.argv) > 2 else "outputs/bench_denoising"  # the benchmark's --output_dir
RECIPES = {"main": "lr 5e-5, 4 documents per step, no warm-up, 3 epochs", "epochs6": "6 epochs",
           "lr1e-4": "learning rate 1e-4", "balance0.5": "class-balanced loss, weight ∝ count^-0.5"}
CORPORA = {"noise_0.3_tuning": "noise 0.3 (seed 1)", "natural": "natural, documents 1-250"}
NAMES = ("learned_epoch", "aum", "confidence", "variability", "combined")
results = {}
for corpus in CORPORA:
    for recipe in RECIPES:
        run = f"{RUNS}/{corpus}/stage1-{recipe}"
        files = glob.glob(run + "/learning_order/instances/*.parquet")
        if not files:
            continue
        t = pq.read_table(files[0]).to_pydict()
        clean = np.array(t["label_is_clean"], dtype=object)
        known = np.array([c is not None for c in clean])
        if corpus == "natural":
            known &= np.asarray(t["document_index"]) < 250
        y = clean[known].astype(bool)
        row = {}
        for name in NAMES:
            cols = {c: np.asarray(t[c]) for c in (*SCORES[name].columns, *getattr(SCORES[name], "optional", ())) if c in t}
            row[name] = float(roc_auc_score(y, np.asarray(cleanliness(name, cols))[known]))
        results.setdefault(corpus, {})[recipe] = {"roc_auc": row, "labels": int(known.sum())}
lines = ["| corpus | recipe | `learned_epoch` | best dynamics | `combined` | Δ `combined` vs main |", "|---|---|---|---|---|---|"]
for corpus, by_recipe in results.items():
    base = by_recipe.get("main", {}).get("roc_auc", {}).get("combined")
    for recipe, r in by_recipe.items():
        a = r["roc_auc"]
        best = max(("aum", "confidence", "variability"), key=lambda n: a[n])
        delta = f"{a['combined'] - base:+.3f}" if base is not None and recipe != "main" else ""
        lines.append(f"| {CORPORA[corpus]} ({r['labels']:,}) | `{recipe}` | {a['learned_epoch']:.3f} | {best} {a[best]:.3f} | {a['combined']:.3f} | {delta} |")
means = {}
for recipe in RECIPES:
    vals = [results[c][recipe]["roc_auc"]["combined"] for c in CORPORA if recipe in results.get(c, {})]
    if len(vals) == len(CORPORA):
        means[recipe] = float(np.mean(vals))
lines += ["", "Mean ROC-AUC of `combined` over both corpora: " + ", ".join(f"`{r}` {m:.3f}" + (f" ({m - means['main']:+.3f})" if r != "main" and "main" in means else "") for r, m in means.items())]
text = "\n".join(lines)
print(text)
if len(sys.argv) > 1:
    out = sys.argv[1]
    json.dump({"recipes": RECIPES, "corpora": CORPORA, "results": results, "mean_combined": means}, open(out + "/results.json", "w"), indent=1)
    open(out + "/results.md", "w").write("# Stage-1 recipe sweep on the tuning corpora (ROC-AUC, clean vs wrong)\n\nProtocol: [protocol.md](protocol.md). Recipes: " + "; ".join(f"`{k}`: {v}" for k, v in RECIPES.items()) + ".\n\n" + text + "\n")
