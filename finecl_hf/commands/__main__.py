"""`python -m finecl_hf.commands <command> ...`: the `finecl` command without its console script."""

from . import main

if __name__ == "__main__":
    main()
