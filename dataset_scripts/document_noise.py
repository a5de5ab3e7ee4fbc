"""Write a copy of gold-labelled DocRED-format documents with a controlled share of wrong relation labels.

    python dataset_scripts/document_noise.py --noise_rate 0.5 --output outputs/datasets/redocred-noise-0.5
    python dataset_scripts/document_noise.py --noise_rate 0 --output outputs/datasets/redocred-clean

The corruption (error types, mixture, fallbacks) and the output schema are described in
`finecl_hf.data.document_noise`; the oracle learning order of such a folder is written by
`finecl convert oracle-order --source FOLDER --output OUT`.

The same as `finecl convert document-noise ...` (the corpus is the `document-noise` entry of `finecl_hf/corpora.py`).
"""

import sys

from finecl_hf.commands import run_command

if __name__ == "__main__":
    run_command("convert", ["document-noise", *sys.argv[1:]])
