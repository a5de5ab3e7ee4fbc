"""Convert SemEval-2010 Task 8 (official plain-text files) into a Hub-ready dataset folder.

    python dataset_scripts/semeval.py --output outputs/datasets/semeval2010_task8
    python dataset_scripts/semeval.py --source train=TRAIN_FILE.TXT test=TEST_FILE_FULL.TXT --output DIR

See dataset_scripts/README.md and `finecl_hf.data.semeval`.

The same as `finecl convert semeval ...` (`finecl_hf/commands/convert.py`; the corpus is the `semeval` entry of
`finecl_hf/corpora.py`).
"""

import sys

from finecl_hf.commands import run_command

if __name__ == "__main__":
    run_command("convert", ["semeval", *sys.argv[1:]])
