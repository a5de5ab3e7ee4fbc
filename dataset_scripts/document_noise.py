"""Write a copy of gold-labelled DocRED-format documents with a controlled share of wrong relation labels.

    python dataset_scripts/document_noise.py --noise-rate 0.5 --output outputs/datasets/redocred-noise-0.5 \
        --oracle-learning-order outputs/learning_order/oracle-noise-0.5
    python dataset_scripts/document_noise.py --noise-rate 0 --output outputs/datasets/redocred-clean

The corruption (error types, mixture, fallbacks), the output schema and the oracle learning order are described in
`finecl_hf.data.document_noise`.
"""

from finecl_hf.data.document_noise import main

if __name__ == "__main__":
    main()
