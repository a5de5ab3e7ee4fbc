"""The error classes of finecl-hf's checks, and what a command's exit status is for each
(`finecl_hf.commands.front_door` turns them into one paragraph and that status).

Kept at the bottom of the package (it imports nothing) so that every layer — the data converters, the stages, the
experiments and the commands — raises the same classes without importing a layer above it.
"""

from __future__ import annotations


class UsageError(ValueError):
    """An argument's value is wrong (exit status 2): out of range, a path that does not exist, a folder that is not
    what the stage reads, an option the command does not know. The message names the argument and the value."""


class DataError(ValueError):
    """An input's content is wrong (exit status 1). The message names the file, record, and field."""


__all__ = ["DataError", "UsageError"]
