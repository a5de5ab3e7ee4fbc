"""The end of a distributed run (`accelerate launch`, `torchrun`), shared by every stage."""

from __future__ import annotations

import atexit
import logging
import os
import sys
from datetime import timedelta
from typing import NoReturn

import torch

# How long processes wait for work the main process does alone (the evidence scores of a large corpus take hours;
# the default process group gives up after `ddp_timeout`, 30 minutes).
PATIENT_TIMEOUT = timedelta(days=7)


def finish_distributed() -> None:
    """Barrier, then tear the process group down.

    The barrier keeps any rank from exiting while another still writes its outputs; exiting with the process group
    alive intermittently aborts the run (SIGABRT). A no-op outside distributed runs.
    """
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


def leave_finished_worker() -> NoReturn:
    """End a worker of a distributed launch whose command has finished, with status 0: wait until every process has
    written its outputs and tear the process group down (`finish_distributed`), then leave.

    A finished worker can still abort while the interpreter shuts down (SIGABRT, "terminate called without an active
    exception"): gloo's native threads outlive `destroy_process_group` as long as the trainer, accelerate or DeepSpeed
    hold the group, and are torn down only after Python has begun finalizing (pytorch/pytorch#179291). The launcher
    then reports the whole run as failed, after every output was written. So the exit handlers run here (they flush
    loggers, progress bars and writers), then the standard streams are flushed, and the process leaves without
    finalization (`os._exit`).
    """
    finish_distributed()
    atexit._run_exitfuncs()  # what a normal exit runs first; the private name is the only way to run them early
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(0)


def patient_group():
    """A gloo group whose barrier waits up to `PATIENT_TIMEOUT` (`None` outside distributed runs). Every process must
    create it together, before the main process goes off to work alone."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.new_group(backend="gloo", timeout=PATIENT_TIMEOUT)
    return None


def wait_for_main_process(group) -> None:
    """Every process of `group` (`patient_group`) waits here until all have arrived; a no-op for `None`."""
    if group is not None:
        torch.distributed.barrier(group=group)


__all__ = [
    "PATIENT_TIMEOUT",
    "finish_distributed",
    "leave_finished_worker",
    "patient_group",
    "wait_for_main_process",
]
