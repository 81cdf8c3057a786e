"""Crash-safe writers: atomic whole-file writes and an append-as-you-go sample log."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel

from safety_eval.results.records import Sample


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temp file in the same folder, fsync, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def atomic_write_csv(
    path: Path, fieldnames: Sequence[str], rows: Iterable[Mapping[str, Any]]
) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(fieldnames), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: row.get(key, "") for key in fieldnames})
    atomic_write_text(path, buffer.getvalue())


class JsonlAppender:
    """Appends one JSON record per line and flushes it at once, so a crash (even
    ``kill -9``) loses at most the record being written; the OS keeps what was flushed."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._handle: IO[str] = path.open("a", encoding="utf-8")

    def append(self, record: BaseModel | Mapping[str, Any]) -> None:
        if isinstance(record, BaseModel):
            line = record.model_dump_json()
        else:
            line = json.dumps(record, ensure_ascii=False, default=str)
        self._handle.write(line + "\n")
        self._handle.flush()

    def close(self) -> None:
        if not self._handle.closed:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def iter_samples(path: Path) -> Iterator[Sample]:
    """Stream the samples of a ``samples.jsonl`` without holding the file in memory.

    A last line cut short by a crash is skipped; any other bad line is an error.
    """
    with path.open(encoding="utf-8") as handle:
        lines = iter(handle)
        for line in lines:
            if not line.strip():
                continue
            if not line.endswith("\n"):
                # the partial line a crash left behind: the sample is simply not finished
                try:
                    yield Sample.model_validate_json(line)
                except ValueError:
                    return
                continue
            yield Sample.model_validate_json(line)


def truncate_partial_line(path: Path) -> bool:
    """Cut an unfinished last line (a crash mid-write) so appends start on a fresh line.

    Returns True when something was cut.
    """
    with path.open("rb+") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        if size == 0:
            return False
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return False
        # walk back to the last newline
        pos = size - 1
        chunk = 4096
        while pos > 0:
            start = max(0, pos - chunk)
            handle.seek(start)
            data = handle.read(pos - start)
            idx = data.rfind(b"\n")
            if idx != -1:
                handle.truncate(start + idx + 1)
                return True
            pos = start
        handle.truncate(0)
        return True
