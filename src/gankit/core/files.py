"""Atomic file writes and numbered run directories."""
from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

from gankit.core.errors import GankitError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` so a crash leaves either the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the permissions open() would
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)  # make the rename itself durable
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. platforms where directories cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_stale_temp_files(folder: Path) -> int:
    """Delete the temporary files atomic_write_bytes leaves behind when its process is killed mid-write."""
    stale = list(folder.glob(".*.tmp")) if folder.is_dir() else []
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)


def atomic_write_json(path: Path, obj: object) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def append_jsonl(path: Path, rows: list[dict]) -> None:
    """Append rows to a JSON-lines file (one flush per call, not per row)."""
    with open(path, "a", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")


def read_jsonl(path: Path) -> list[dict]:
    """All rows of a JSON-lines file ([] if it does not exist). A last line without its newline that does
    not parse is an append torn by a kill and is skipped; any other damaged line is a GankitError."""
    if not path.exists():
        return []
    text = path.read_text()
    lines = text.splitlines()
    rows = []
    for n, line in enumerate(lines, 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                if n == len(lines) and not text.endswith("\n"):
                    break
                raise GankitError(f"{path} line {n} is not JSON ({exc}); the file is damaged") from exc
    return rows


def new_run_dir(root: Path, tag: str) -> Path:
    """Create `root/NNNNN-tag`, one past the highest number there; never reuses an existing directory."""
    root.mkdir(parents=True, exist_ok=True)
    numbers = [int(m.group(1)) for p in root.iterdir() if (m := re.match(r"(\d{5})-", p.name))]
    number = max(numbers, default=-1) + 1
    while True:
        path = root / f"{number:05d}-{tag}"
        try:
            path.mkdir()
            return path
        except FileExistsError:  # another process took this number meanwhile
            number += 1
