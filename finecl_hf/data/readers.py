"""Streaming readers for the source formats: plain or gzipped text, JSON lines and (large) JSON arrays.

Nothing here loads a whole file: JSON arrays such as DocRED's `train_distant.json` are decoded one element at a time,
so converting 100k documents needs no more memory than converting 10k.

Every failure is reported as an `InvalidRecordError` naming the file and the record:
- bytes that are not UTF-8 are decoded with `surrogateescape` and reported for the record (and field) holding them, so
  `--skip_invalid` can drop just that record;
- a truncated or corrupt gzip stream, or a JSON array cut short, is fatal: nothing after it can be trusted.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from ..errors import UsageError
from .invalid_records import InvalidRecordError

GZIP_MAGIC = b"\x1f\x8b"
CHUNK_CHARS = 1 << 20
# Undecodable bytes become lone surrogates U+DC80..U+DCFF under `surrogateescape`; JSON can also spell lone surrogates
# as escapes (\udXXX). Records matching this pattern are inspected string by string (valid surrogate pairs pass).
_MAYBE_UNDECODABLE = re.compile(r"[\udc80-\udcff]|\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_COMPRESSION_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error)
_NON_SPACE = re.compile(r"\S")


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of the file's bytes as stored on disk (i.e. of the compressed bytes for a `.gz`)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def open_text(path: str | Path) -> Iterator[TextIO]:
    """Open a UTF-8 text file, transparently gunzipping it when it starts with the gzip magic bytes.

    Invalid UTF-8 is kept as lone surrogates (``errors="surrogateescape"``) so it can be reported per record;
    universal newlines make CRLF files (e.g. the official SemEval zip) read like LF ones, and a UTF-8 byte-order mark
    (as Windows editors write) is dropped (``utf-8-sig``).
    """
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    with open(path, "rb") as probe:
        compressed = probe.read(2) == GZIP_MAGIC
    if compressed:
        handle = gzip.open(path, "rt", encoding="utf-8-sig", errors="surrogateescape")
    else:
        handle = open(path, encoding="utf-8-sig", errors="surrogateescape")
    with handle:
        yield handle


def read_chunk(stream: TextIO, source: str | Path, record: int | str, size: int = CHUNK_CHARS) -> str:
    """`stream.read(size)`, turning a truncated/corrupt gzip stream into an `InvalidRecordError` at `record`."""
    try:
        return stream.read(size)
    except _COMPRESSION_ERRORS as error:
        raise InvalidRecordError(
            source, record, "<file>", f"the gzip stream is truncated or corrupt ({error})"
        ) from None


def iter_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """Yield `(0-based line number, line without its newline)` for every line of a text file."""
    with open_text(path) as stream:
        line_number = 0
        pending = ""
        while chunk := read_chunk(stream, path, f"line {line_number + 1}"):
            lines = (pending + chunk).split("\n")
            pending = lines.pop()
            for line in lines:
                yield line_number, line
                line_number += 1
        if pending:
            yield line_number, pending


def undecodable_field(value: Any, path: str = "") -> str | None:
    """Path of the first string inside `value` that is not valid Unicode (e.g. ``sents[2][7]``), or None."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path or "<text>"
        return None
    if isinstance(value, dict):
        children = ((f"{path}.{key}" if path else str(key), child) for key, child in value.items())
    elif isinstance(value, list):
        children = ((f"{path}[{index}]", child) for index, child in enumerate(value))
    else:
        return None
    for child_path, child in children:
        if (found := undecodable_field(child, child_path)) is not None:
            return found
    return None


def check_decodable(value: Any, raw_text: str, source: str | Path, record: int, record_id: str | None = None) -> None:
    """Raise `InvalidRecordError` when `raw_text` (the record's source text) holds bytes that are not UTF-8."""
    if _MAYBE_UNDECODABLE.search(raw_text) is None:
        return
    if (field := undecodable_field(value)) is not None:
        raise InvalidRecordError(source, record, field, "contains bytes that are not valid UTF-8", record_id=record_id)


def iter_json_records(path: str | Path) -> Iterator[tuple[int, Any | InvalidRecordError]]:
    """Yield `(index, record)` for each element of a JSON array file or each line of a JSON-lines file.

    The format is detected from the first non-blank character (``[`` = array). For JSON lines, `index` is the 0-based
    line number (blank lines are skipped). A record-level problem (a line that is not JSON, non-UTF-8 bytes) is
    yielded as an `InvalidRecordError` instead of the record, so the caller may skip it; problems after which the rest
    of the file cannot be read (truncated gzip, truncated or malformed JSON array) are raised.
    """
    with open_text(path) as stream:
        first = read_chunk(stream, path, 0, size=4096)
        stripped = first.lstrip()
        while not stripped:
            more = read_chunk(stream, path, 0, size=4096)
            if not more:
                raise InvalidRecordError(path, "<file>", "<file>", "the file is empty (an interrupted download?)")
            first, stripped = first + more, (first + more).lstrip()
        if stripped[0] == "[":
            yield from _JSONArrayStream(stream, path, first).records()
        else:
            yield from _json_lines(stream, path, first)


def _json_lines(stream: TextIO, path: str | Path, first: str) -> Iterator[tuple[int, Any | InvalidRecordError]]:
    line_number = 0
    pending = first
    while True:
        chunk = read_chunk(stream, path, line_number)
        lines = (pending + chunk).split("\n")
        pending = lines.pop() if chunk else ""
        for line in lines:
            if line.strip():
                yield line_number, _decode_json_line(line, path, line_number)
            line_number += 1
        if not chunk:
            return


def _decode_json_line(line: str, path: str | Path, line_number: int) -> Any | InvalidRecordError:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as error:
        return InvalidRecordError(path, line_number, "<json>", f"not valid JSON ({error.msg} at column {error.colno})")
    try:
        check_decodable(value, line, path, line_number)
    except InvalidRecordError as error:
        return error
    return value


class _JSONArrayStream:
    """Incremental decoder of a top-level JSON array: keeps about one chunk of text in memory at a time."""

    def __init__(self, stream: TextIO, source: str | Path, first: str):
        self.stream = stream
        self.source = source
        self.text = first
        self.pos = 0
        self.consumed = 0  # characters dropped from the front of `text`
        self.eof = False
        self.decoder = json.JSONDecoder()

    def records(self) -> Iterator[tuple[int, Any | InvalidRecordError]]:
        self._expect("[", 0, "the file does not start with '['")
        index = 0
        if self._peek(index) == "]":
            self.pos += 1
        else:
            while True:
                if self._peek(index) is None:
                    self._fail(index, "the file ends before the closing ']' (truncated JSON?)")
                start = self.pos
                value = self._decode(index)
                yield index, self._checked(value, start, index)
                index += 1
                separator = self._peek(index)
                if separator is None:
                    self._fail(index, "the file ends before the closing ']' (truncated JSON?)")
                self.pos += 1
                if separator == "]":
                    break
                if separator != ",":
                    self._fail(index, f"expected ',' or ']' between records, found {separator!r}")
                self._compact()
        if self._peek(index) is not None:
            self._fail(index, "unexpected data after the closing ']'")

    def _checked(self, value: Any, start: int, index: int) -> Any | InvalidRecordError:
        record_id = value.get("title") if isinstance(value, dict) else None
        try:
            check_decodable(value, self.text[start : self.pos], self.source, index, record_id=record_id)
        except InvalidRecordError as error:
            return error
        return value

    def _fill(self, index: int) -> bool:
        chunk = read_chunk(self.stream, self.source, index)
        if not chunk:
            self.eof = True
            return False
        self.text += chunk
        return True

    def _peek(self, index: int) -> str | None:
        """Next non-whitespace character (not consumed), or None at the end of the file."""
        while True:
            match = _NON_SPACE.search(self.text, self.pos)
            if match is not None:
                self.pos = match.start()
                return match.group()
            self.consumed += len(self.text)
            self.text, self.pos = "", 0
            if not self._fill(index):
                return None

    def _expect(self, character: str, index: int, reason: str) -> None:
        if self._peek(index) != character:
            self._fail(index, reason)
        self.pos += 1

    def _decode(self, index: int) -> Any:
        while True:
            try:
                value, end = self.decoder.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as error:
                if self.eof or not self._fill(index):
                    offset = self.consumed + error.pos
                    self._fail(index, f"invalid or truncated JSON ({error.msg} at character {offset})")
                continue
            # A scalar may have been cut at the chunk boundary; objects and arrays end with their closing bracket.
            if end == len(self.text) and not isinstance(value, (dict, list)) and not self.eof and self._fill(index):
                continue
            self.pos = end
            return value

    def _compact(self) -> None:
        if self.pos > CHUNK_CHARS:
            self.consumed += self.pos
            self.text = self.text[self.pos :]
            self.pos = 0

    def _fail(self, index: int, reason: str) -> None:
        raise InvalidRecordError(self.source, index, "<json>", reason)


__all__ = [
    "check_decodable",
    "file_sha256",
    "iter_json_records",
    "iter_lines",
    "open_text",
    "read_chunk",
    "undecodable_field",
]
