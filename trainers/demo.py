#!/usr/bin/env python
"""FineCL end to end on the embedded default: `make demo`, the same as `finecl demo`.

Its command is `finecl_hf/commands/demo.py`; the demo lives in `finecl_hf/experiments/demo.py` (with what it shares
with the reproduction in `finecl_hf/experiments/steps.py`); `--help` lists every path and budget.
"""

from finecl_hf.commands import run_command

if __name__ == "__main__":
    run_command("demo")
