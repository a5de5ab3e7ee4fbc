"""Convert TACRED JSON files (LDC2018T24; also TACREV / Re-TACRED) into a Hub-ready dataset folder.

    python dataset_scripts/tacred.py --source /path/to/tacred/data/json --output outputs/datasets/tacred
    python dataset_scripts/tacred.py --source train=train.json validation=dev.json test=test.json --output DIR

TACRED is licensed by the LDC and not shipped with finecl-hf. See dataset_scripts/README.md and
`finecl_hf.data.tacred`.

The same as `finecl convert tacred ...` (`finecl_hf/commands/convert.py`; the corpus is the `tacred` entry of
`finecl_hf/corpora.py`).
"""

import sys

from finecl_hf.commands import run_command

if __name__ == "__main__":
    run_command("convert", ["tacred", *sys.argv[1:]])
