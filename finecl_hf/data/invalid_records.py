"""Errors raised on invalid source data, and the bookkeeping of records skipped with `--skip_invalid`."""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field
from os import PathLike

from transformers.utils import logging

from ..errors import DataError

logger = logging.get_logger(__name__)


class InvalidRecordError(DataError):
    """A source record that cannot be converted.

    The message always names the file, the record (1-based, as editors count, plus its own id when it has one, and
    its first line where the format is line-based) and the offending field, e.g.
    ``TRAIN_FILE.TXT: record 13 (id '13', line 49), field 'sentence': no <e2>...</e2> markers``.

    Args:
        source: File the record comes from.
        record: 0-based position of the record in `source` (shown 1-based), or a description such as
            ``"line 12"`` when the position is not known, e.g. for a truncated file.
        field: Name (or path, e.g. ``vertexSet[3][0].pos``) of the offending field.
        reason: What is wrong with it.
        record_id: The record's own identifier (SemEval/TACRED id, DocRED title), when it has one.
        line: 0-based number of the record's first line (shown 1-based), for line-based formats.
    """

    def __init__(
        self,
        source: str | PathLike,
        record: int | str,
        field: str,
        reason: str,
        record_id: str | None = None,
        line: int | None = None,
    ):
        self.source = str(source)
        self.record = record
        self.field = field
        self.reason = reason
        self.record_id = record_id
        self.line = line
        details = ([f"id {record_id!r}"] if record_id not in (None, "") else []) + (
            [f"line {line + 1}"] if line is not None else []
        )
        where = f"record {record + 1}" if isinstance(record, int) else f"record {record}"
        where += f" ({', '.join(details)})" if details else ""
        super().__init__(f"{self.source}: {where}, field {field!r}: {reason}")

    def at_line(self, line: int) -> InvalidRecordError:
        """The same error, naming the record's first line (0-based `line`, shown 1-based)."""
        return InvalidRecordError(self.source, self.record, self.field, self.reason, self.record_id, line)


@dataclass
class SkippedRecords:
    """Records dropped by `--skip_invalid`: counted per split and field, each one reported on stderr.

    The counts end up in the dataset card, so a converted dataset always says how much of its source it lost.
    """

    by_split: Counter = field(default_factory=Counter)
    by_field: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    max_examples: int = 10

    def add(self, split: str, error: InvalidRecordError) -> None:
        """Count `error` as one skipped record of `split` and print it on stderr."""
        self.by_split[split] += 1
        self.by_field[error.field] += 1
        if len(self.examples) < self.max_examples:
            self.examples.append(str(error))
        print(f"skipped invalid record: {error}", file=sys.stderr)

    @property
    def total(self) -> int:
        return sum(self.by_split.values())

    def to_dict(self) -> dict:
        """JSON/YAML-friendly summary for the dataset card."""
        return {
            "total": self.total,
            "by_split": dict(sorted(self.by_split.items())),
            "by_field": dict(sorted(self.by_field.items())),
            "examples": list(self.examples),
        }

    def log_summary(self) -> None:
        if self.total:
            logger.warning(
                f"Skipped {self.total} invalid record(s) (by split: {dict(self.by_split)}; "
                f"by field: {dict(self.by_field)})."
            )


__all__ = ["InvalidRecordError", "SkippedRecords"]
