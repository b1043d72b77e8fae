"""Atomic file writes and numbered run directories."""
from __future__ import annotations

import errno
import json
import os
import re
import shutil
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


def load_tensor_file(path: Path, what: str):
    """torch.load with weights_only=True (plain containers and tensors; a pickle that would import or call
    code is refused), every failure said in one sentence naming `what` the file was meant to be. Never
    suggests loading without weights_only, as torch's own message does."""
    import pickle

    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise GankitError(f"no {what} at {path}") from exc
    except IsADirectoryError as exc:
        raise GankitError(f"{path} is a folder, not {what}") from exc
    except MemoryError:
        raise
    except pickle.UnpicklingError as exc:
        raise GankitError(f"{path} is not {what}: it holds objects other than tensors and plain data, which "
                          "gankit refuses to load because they could run code") from exc
    except Exception as exc:  # a truncated, corrupt or foreign file fails inside torch in many ways
        raise GankitError(f"{path} is not {what} or is corrupt (torch could not read it: "
                          f"{exc.__class__.__name__})") from exc


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


STAGING_PREFIX = ".incomplete-"  # a run directory being made: hidden, named after the process making it
PSEUDO_FILESYSTEMS = ("/proc", "/sys", "/dev")


def check_output_folder(root: Path, name: str = "") -> None:
    """Refuse an output folder that cannot hold run directories, before anything is written (so a dry run
    refuses it too): an existing file, a kernel pseudo-filesystem, or a path under a folder we cannot write."""
    root = Path(root).expanduser()
    if root.exists() and not root.is_dir():
        raise GankitError(f"--out {root} is a file, not a folder; pass a folder to hold the run directories")
    resolved = root.resolve()
    if any(resolved == Path(p) or Path(p) in resolved.parents for p in PSEUDO_FILESYSTEMS):
        raise GankitError(f"--out {root} is in a system pseudo-filesystem; pass a folder on a disk")
    existing = next(p for p in (resolved, *resolved.parents) if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise GankitError(f"--out {root}: cannot create folders in {existing}; pass a folder you can write to")
    if name and (root / name).exists():
        raise _name_taken(root, name)


def _name_taken(root: Path, name: str) -> GankitError:
    return GankitError(f"a run named {name} already exists in {root}: continue it with gankit train --resume "
                       f"{root / name}, or choose another --name")


def staging_dir(root: Path) -> Path:
    """An empty hidden folder in `root` to assemble a run directory in (see publish_run_dir). Staging
    folders left by killed processes are removed first."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        _remove_abandoned_staging(root)
        staging = Path(tempfile.mkdtemp(dir=root, prefix=f"{STAGING_PREFIX}{os.getpid()}-"))
        os.chmod(staging, 0o777 & ~_umask())  # mkdtemp makes 0700; a run directory gets what mkdir gives
        return staging
    except OSError as exc:
        raise GankitError(f"cannot create a run directory in {root}: {exc.strerror or exc}") from exc


def _remove_abandoned_staging(root: Path) -> None:
    for path in root.glob(f"{STAGING_PREFIX}*"):
        m = re.match(rf"{re.escape(STAGING_PREFIX)}(\d+)-", path.name)
        if m and not _alive(int(m.group(1))):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def publish_run_dir(staging: Path, tag: str, name: str = "") -> Path:
    """Rename a complete staging folder to `name`, or else to `NNNNN-tag` one past the highest number there:
    a run directory appears whole or not at all, and never replaces an existing one."""
    root = staging.parent
    if name:
        path = root / name
        if path.exists():  # another process took the name since check_output_folder
            raise _name_taken(root, name)
        os.rename(staging, path)
        _fsync_dir(root)
        return path
    numbers = [int(m.group(1)) for p in root.iterdir() if (m := re.match(r"(\d{5})-", p.name))]
    number = max(numbers, default=-1) + 1
    while True:
        path = root / f"{number:05d}-{tag}"
        if not path.exists():
            try:
                os.rename(staging, path)  # fails on a non-empty target: another process took the number
                _fsync_dir(root)
                return path
            except OSError as exc:
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
        number += 1
