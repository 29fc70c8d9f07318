"""The one way the workbench writes a file: to a unique temporary name in the target directory,
fsync'd, then renamed into place, so a reader never sees a partial file and a crash or a kill
leaves either the old file or the new one (plus, at worst, a ``.*.tmp`` that the next write of
the same name removes).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from workbench.engine.errors import OutputExistsError


def temp_name(path: Path) -> Path:
    """A fresh temporary name beside ``path``: unique per process and per call."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")


def fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    if path.is_dir():
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def stale_temps(path: Path) -> list[Path]:
    """Temporary files left beside ``path`` by writes of the same name that were killed."""
    if not path.parent.is_dir():
        return []
    return sorted(path.parent.glob(f".{path.name}.*.tmp"))


def _clean_stale(path: Path) -> None:
    for old in stale_temps(path):
        # a temp of a live writer in another process is left alone (its pid still runs)
        parts = old.name.rsplit(".", 3)
        pid = int(parts[1]) if len(parts) == 4 and parts[1].isdigit() else None
        if pid is not None and pid != os.getpid() and pid_alive(pid):
            continue
        with contextlib.suppress(OSError):
            old.unlink()


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (on this machine)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], Any], *,
                 overwrite: bool = False) -> Path:  # fmt: skip
    """Write ``path`` through ``write(tmp)``, then rename ``tmp`` into place.

    Refuses an existing ``path`` unless ``overwrite`` (:class:`OutputExistsError`)."""
    return atomic_write_many([Path(path)], lambda tmps: write(tmps[0]), overwrite=overwrite)[0]


def _reserve(target: Path, overwrite: bool) -> Path:
    """Check ``target`` may be written, clean killed writers' temps, create a fresh temp."""
    if target.exists() and not overwrite:
        raise OutputExistsError(f"the output file {target} exists", path=target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _clean_stale(target)
    tmp = temp_name(target)
    # created like any new file (mode 0o666 less the umask), unlike mkstemp's 0o600
    os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    return tmp


def _discard(tmps: Sequence[Path]) -> None:
    for tmp in tmps:
        with contextlib.suppress(OSError):
            tmp.unlink()


def atomic_write_many(paths: Sequence[str | os.PathLike[str]],
                      write: Callable[[list[Path]], Any], *,
                      overwrite: bool = False) -> list[Path]:  # fmt: skip
    """Write a set of files all or nothing: ``write`` fills one temporary file per path; only
    when it returns are they all renamed into place. Names that collide are refused."""
    targets = [Path(p) for p in paths]
    if len({t.resolve() for t in targets}) != len(targets):
        raise OutputExistsError("two of the files to write have the same name")
    for t in targets:  # every check before the first temp file exists
        if t.exists() and not overwrite:
            raise OutputExistsError(f"the output file {t} exists", path=t)
    tmps: list[Path] = []
    try:
        for t in targets:
            tmps.append(_reserve(t, overwrite))
        write(tmps)
        for tmp in tmps:
            _fsync_file(tmp)
        for tmp, t in zip(tmps, targets, strict=True):
            os.replace(tmp, t)
    except BaseException:
        _discard(tmps)
        raise
    for d in {t.parent for t in targets}:
        fsync_dir(d)
    return targets


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, overwrite: bool = False) -> Iterator[Path]:
    """``with atomic_path(p) as tmp:`` write ``tmp``; it becomes ``p`` when the block ends
    without an exception (for writers that stream into a file over a long time)."""
    target = Path(path)
    tmp = _reserve(target, overwrite)
    try:
        yield tmp
        _fsync_file(tmp)
        os.replace(tmp, target)
    except BaseException:
        _discard([tmp])
        raise
    fsync_dir(target.parent)
