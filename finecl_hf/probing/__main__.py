"""`python -m finecl_hf.probing ...`: see `finecl_hf.probing.cli`."""

from .cli import main

if __name__ == "__main__":
    main()
