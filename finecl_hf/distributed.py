"""The end of a distributed run (`accelerate launch`, `torchrun`), shared by every stage."""

from __future__ import annotations

from datetime import timedelta

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


__all__ = ["PATIENT_TIMEOUT", "finish_distributed", "patient_group", "wait_for_main_process"]
