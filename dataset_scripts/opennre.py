"""Convert OpenNRE-style JSON lines (Wiki80, FewRel-derived, CP/ERICA sentence files) into a Hub-ready dataset folder.

    python dataset_scripts/opennre.py --output outputs/datasets/wiki80
    python dataset_scripts/opennre.py --source train=train.txt validation=val.txt --relations rel2id.json --output DIR

See dataset_scripts/README.md and `finecl_hf.data.opennre`.

The same as `finecl convert wiki80 ...` (`finecl_hf/commands/convert.py`; the corpus is the `wiki80` entry of
`finecl_hf/corpora.py`).
"""

import sys

from finecl_hf.commands import run_command

if __name__ == "__main__":
    run_command("convert", ["wiki80", *sys.argv[1:]])
