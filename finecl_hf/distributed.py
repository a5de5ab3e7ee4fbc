"""The end of a distributed run (`accelerate launch`, `torchrun`), shared by every stage."""

from __future__ import annotations

import torch


def finish_distributed() -> None:
    """Barrier, then tear the process group down.

    The barrier keeps any rank from exiting while another still writes its outputs; exiting with the process group
    alive intermittently aborts the run (SIGABRT). A no-op outside distributed runs.
    """
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


__all__ = ["finish_distributed"]
