"""Run a finecl-hf CLI in this process with one injected interruption point (the kill-and-resume tests' child).

    python tests/reliability/interrupt_cli.py trainers/pretrain.py --learning_order_dataset ... --save_steps 2

Environment:
    FINECL_TEST_PAUSE_AFTER_CHECKPOINT=N  after checkpoint-N is completely saved, print "PAUSED AFTER CHECKPOINT N"
                                          and stand still (the parent SIGKILLs the run mid-training);
    FINECL_TEST_STALL_SAVE_AT=N           inside the save of checkpoint-N, once the weights are written, print
                                          "STALLED INSIDE SAVE OF CHECKPOINT N" and stand still (kill during a save).

The CLI itself is unchanged: only `transformers.Trainer` is patched, so every stage trainer gets the same hooks.
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reliability_helpers import (  # noqa: E402 - needs the path above
    PAUSE_ENV,
    STALL_ENV,
    PauseAfterCheckpoint,
    add_callback_to_every_trainer,
    stall_inside_save,
)


def main() -> None:
    script, arguments = sys.argv[1], sys.argv[2:]
    if PAUSE_ENV in os.environ:
        add_callback_to_every_trainer(PauseAfterCheckpoint(int(os.environ[PAUSE_ENV])))
    if STALL_ENV in os.environ:
        stall_inside_save(int(os.environ[STALL_ENV]))
    sys.argv = [script, *arguments]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
