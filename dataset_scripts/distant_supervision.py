"""Distantly label DocRED-format documents with a fact file and write a Hub-ready dataset folder.

    python dataset_scripts/distant_supervision.py --output outputs/datasets/redocred-distant
    python dataset_scripts/distant_supervision.py --source train=docs.json --facts facts.json.gz --output DIR

Facts are a JSON list of [head name, tail name, P-id]; the source documents' own labels are ignored for labelling and
kept in `gold_relations`. Matching rule: `finecl_hf.data.distant_supervision`; see also dataset_scripts/README.md.

The same as `finecl convert distant-supervision ...` (`finecl_hf/commands/convert.py`; the corpus is the `distant-supervision` entry of
`finecl_hf/corpora.py`).
"""

import sys

from finecl_hf.commands import run_command

if __name__ == "__main__":
    run_command("convert", ["distant-supervision", *sys.argv[1:]])
