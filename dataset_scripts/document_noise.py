"""Write a copy of gold-labelled DocRED-format documents with a controlled share of wrong relation labels.

    python dataset_scripts/document_noise.py --noise-rate 0.5 --output outputs/datasets/redocred-noise-0.5
    python dataset_scripts/document_noise.py --noise-rate 0 --output outputs/datasets/redocred-clean

The corruption (error types, mixture, fallbacks) and the output schema are described in
`finecl_hf.data.document_noise`; the oracle learning order of such a folder is written by
`python -m finecl_hf.learning_order.dataset oracle --noisy_dataset FOLDER --output_dir OUT`.
"""

from finecl_hf.data.document_noise import main

if __name__ == "__main__":
    main()
