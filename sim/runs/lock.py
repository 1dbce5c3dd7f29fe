"""One writer per run folder: an OS file lock on `<run folder>/.lock`.

    with locked(run_dir):          # RunFolderBusy if another live process holds it
        ...write the run...

The lock is `fcntl.flock` on the file `.lock` in the run folder, which holds the holder's pid, host,
start time and command. The kernel releases a flock when its process ends, however it ends (SIGKILL
included), so a lock file whose flock can be taken is stale: its holder is gone. A stale lock is taken
over (`RunLock.stale` says whose it was); a live one is refused with a message naming the process.
On a clean release the file is emptied, not removed (removing a locked file lets two processes lock
two different files of the same name).

A lock is held by an open file description: it is not inherited by programs this process starts
(Python opens files non-inheritable), and a second `acquire` of the same folder by the same process
returns the lock it already holds (`held`).
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import socket
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

LOCK = ".lock"
log = logging.getLogger("sim.runs.lock")
NO_LOCKS = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL)  # filesystems without flock


class RunFolderBusy(RuntimeError):
    """Another live process is writing into this run folder."""


@dataclass
class RunLock:
    path: Path  # the lock file
    fd: int | None  # None: the filesystem does not support locks (not protected)
    stale: dict | None = None  # the details of a dead holder whose lock was taken over
    depth: int = 1


_held: dict[str, RunLock] = {}


def _key(run_dir) -> str:
    return os.path.realpath(Path(run_dir))


def holder_text(info: dict | None) -> str:
    if not info:
        return "another process (it has not written its details yet)"
    text = f"process {info.get('pid')} on {info.get('host')}"
    if info.get("started"):
        text += f", started {info['started']}"
    if info.get("command"):
        text += f" ({info['command']})"
    return text


def _read(fd: int) -> dict | None:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        raw = os.read(fd, 65536)
        return json.loads(raw) if raw.strip() else None
    except (OSError, ValueError):
        return None


def read_holder(run_dir) -> dict | None:
    """The details written in a run folder's lock file (of a live or a dead holder), None if none."""
    try:
        fd = os.open(Path(run_dir) / LOCK, os.O_RDONLY)
    except OSError:
        return None
    try:
        return _read(fd)
    finally:
        os.close(fd)


def command_line() -> str:
    args = sys.argv[1:]
    prog = "python -m sim" if sys.argv and sys.argv[0].endswith(("__main__.py", "python -m sim")) else sys.argv[0]
    return " ".join([prog, *args]) if sys.argv else "python"


def held(run_dir) -> RunLock | None:
    return _held.get(_key(run_dir))


def acquire(run_dir) -> RunLock:
    """Lock `run_dir` (created if missing) for this process. Raises RunFolderBusy naming the holder."""
    key = _key(run_dir)
    if key in _held:
        _held[key].depth += 1
        return _held[key]
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        info = _read(fd)
        os.close(fd)
        raise RunFolderBusy(
            f"run folder {run_dir} is in use by {holder_text(info)}; only one run may write into a folder: "
            f"wait for it to end, or give this run its own folder (hydra.run.dir=...)"
        ) from None
    except OSError as e:
        os.close(fd)
        if e.errno not in NO_LOCKS:
            raise
        log.warning("cannot lock %s (%s): running without the one-writer guard", run_dir, e.strerror)
        lock = _held[key] = RunLock(path, None)
        return lock
    stale = _read(fd)
    me = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command_line(),
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(me).encode("utf-8"), 0)
    lock = _held[key] = RunLock(path, fd, stale)
    return lock


def stale_message(lock: RunLock) -> str | None:
    """The warning for a lock taken over from a dead holder, None if it was free."""
    if not lock.stale:
        return None
    return (
        f"took over a stale lock of {lock.path.parent}: its holder, {holder_text(lock.stale)}, ended without "
        f"releasing it (killed?); what it left there without a complete manifest does not count"
    )


def release(lock: RunLock) -> None:
    """Release a lock of this process (the outermost release of a lock acquired several times)."""
    lock.depth -= 1
    if lock.depth > 0:
        return
    _held.pop(_key(lock.path.parent), None)
    if lock.fd is None:
        return
    try:
        os.ftruncate(lock.fd, 0)
        fcntl.flock(lock.fd, fcntl.LOCK_UN)
    finally:
        os.close(lock.fd)
        lock.fd = None


@contextmanager
def locked(run_dir):
    lock = acquire(run_dir)
    try:
        yield lock
    finally:
        release(lock)
