#!/usr/bin/env python
"""The controlled label-noise experiment (ERICA vs FineCL, probed): `make reproduce`, the same as `finecl reproduce`.

Its command is `finecl_hf/commands/reproduce.py`, the experiment `finecl_hf/experiments/`; `--help` lists every budget.
"""

from finecl_hf.commands import run_command

if __name__ == "__main__":
    run_command("reproduce")
