"""Convert DocRED-format JSON (DocRED, Re-DocRED, train_distant.json, ERICA's files) into a Hub-ready dataset folder.

    python dataset_scripts/docred.py --source $FINECL_DATA_DIR/redocred/test_revised.json.gz --output DIR
    python dataset_scripts/docred.py --source train=train_annotated.json validation=dev.json --output DIR

Writes the documents (default config) and their relation-instance view (config `relation_instances`). See
dataset_scripts/README.md and `finecl_hf.data.docred`.

The same as `finecl convert docred ...` (`finecl_hf/commands/convert.py`; the corpus is the `docred` entry of
`finecl_hf/corpora.py`).
"""

import sys

from finecl_hf.commands import run_command

if __name__ == "__main__":
    run_command("convert", ["docred", *sys.argv[1:]])
