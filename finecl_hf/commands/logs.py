"""Log lines of finecl-hf's own steps on the terminal, as transformers shows its own.

finecl-hf's modules log through `transformers.utils.logging.get_logger(__name__)`, whose loggers (``finecl_hf.*``) are
outside transformers' library root and so, by Python's defaults, show warnings only. A command that runs long steps
of its own (stage 1's evidence scores: minutes on 500 documents, hours on 100,000) shows their INFO lines on the
main process, the way `Trainer` logs on the main process only.
"""

from __future__ import annotations

import logging

LIBRARY_LOGGER = "finecl_hf"


def show_info_logs(main_process: bool = True) -> None:
    """INFO lines of ``finecl_hf.*`` on stderr on the main process (warnings elsewhere); once per process."""
    logger = logging.getLogger(LIBRARY_LOGGER)
    logger.setLevel(logging.INFO if main_process else logging.WARNING)
    if not any(getattr(handler, "_finecl", False) for handler in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("[%(levelname)s|%(name)s] %(asctime)s >> %(message)s", "%H:%M:%S"))
        handler._finecl = True
        logger.addHandler(handler)


__all__ = ["show_info_logs"]
