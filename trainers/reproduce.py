#!/usr/bin/env python
"""The paper's comparison at a CPU-sized scale: `make reproduce`, the same as `finecl reproduce`.

The reproduction lives in the package (`finecl_hf/experiments/reproduction.py`); `--help` lists every budget.
"""

from finecl_hf.commands import run_command

if __name__ == "__main__":
    run_command("reproduce")
