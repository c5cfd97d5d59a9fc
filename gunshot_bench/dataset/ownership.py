"""What a build owns in its output folder, and how it keeps other people's files safe.

A build writes `.gunshot-bench-build` (the marker) into the dataset folder: a JSON list of
every file it wrote. A later build replaces a folder only when every entry in it is listed
there; anything else (notes, a `.git` folder, a training run written inside) makes the
build refuse, naming what it found, with or without `--overwrite`. When an old build is
replaced, only the files its marker lists are deleted.

A lock file beside the output (`.NAME.lock`, held with `flock`) makes a second build into
the same folder fail at once instead of racing the first, and staging folders that dead
builds left behind (`.NAME.building-PID` whose process is gone) are removed by the next one.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import re
import shutil
from pathlib import Path

log = logging.getLogger(__name__)

MARKER = ".gunshot-bench-build"
_MARKER_FORMAT = 1
#: How many foreign entries a refusal lists before it says "and N more".
_LIST_AT_MOST = 10


class OutputRefused(FileExistsError):
    """The output folder holds something this build must not replace (a one-line user error)."""


def _names(paths: list[str]) -> str:
    shown = ", ".join(paths[:_LIST_AT_MOST])
    return shown + (f" and {len(paths) - _LIST_AT_MOST} more" if len(paths) > _LIST_AT_MOST else "")


def entries(folder: Path) -> list[str]:
    """Every file, link and folder below `folder` as sorted posix paths (folders end with '/')."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        here = Path(dirpath)
        for d in dirnames:
            rel = (here / d).relative_to(folder).as_posix()
            found.append(rel if (here / d).is_symlink() else rel + "/")
        found += [(here / f).relative_to(folder).as_posix() for f in filenames]
    return sorted(found)


def owned_files(folder: Path) -> list[str] | None:
    """The entries the marker of `folder` says a build wrote (folders end with '/'), or None without a valid marker."""
    path = Path(folder) / MARKER
    if not path.is_file() or path.is_symlink():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != _MARKER_FORMAT or not isinstance(data.get("files"), list):
        return None
    return [f for f in data["files"] if isinstance(f, str)]


def foreign_entries(folder: Path) -> list[str]:
    """Entries of `folder` that no build wrote (everything, when it has no marker)."""
    owned = owned_files(folder)
    if owned is None:
        return entries(folder)
    allowed = set(owned) | {MARKER}
    for f in owned:  # the folders that hold owned files are owned too
        parts = f.split("/")[:-1]
        allowed |= {"/".join(parts[:i]) + "/" for i in range(1, len(parts) + 1)}
    return [e for e in entries(folder) if e not in allowed]


def write_marker(folder: Path) -> None:
    """Record every file now in `folder` as written by this build (call it last, in the staging folder)."""
    files = [e for e in entries(folder) if e != MARKER]  # folders too (ending in '/'): a build may leave one empty
    (Path(folder) / MARKER).write_text(json.dumps({"format": _MARKER_FORMAT, "files": files}, indent=0))


def read_manifest(folder: Path) -> dict:
    """The `manifest.json` of a folder as a dict; OutputRefused naming the file when it is not one."""
    path = Path(folder) / "manifest.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise OutputRefused(f"{path} is not valid JSON ({exc}); not replacing {folder}, choose another --out") from None
    if not isinstance(data, dict):
        raise OutputRefused(f"{path} is not a gunshot-bench manifest (a JSON {type(data).__name__}, not an object); "
                            f"not replacing {folder}, choose another --out")
    return data


def check_replaceable(out_dir: Path) -> None:
    """Raise OutputRefused unless `out_dir` is absent, empty, or holds only files a build wrote."""
    if not out_dir.exists() and not out_dir.is_symlink():
        return
    if out_dir.is_symlink() or not out_dir.is_dir():
        raise OutputRefused(f"{out_dir} exists and is not a folder; choose another --out")
    found = entries(out_dir)
    if not found:
        return
    if owned_files(out_dir) is None:
        raise OutputRefused(f"{out_dir} is not a gunshot-bench dataset (no {MARKER} marker of a build) and holds "
                            f"{len(found)} entries ({_names(found)}); nothing was changed, choose another --out")
    foreign = foreign_entries(out_dir)
    if foreign:
        raise OutputRefused(f"{out_dir} holds files that no build wrote ({_names(foreign)}); move them out of the "
                            "folder or choose another --out (--overwrite never deletes them)")


def remove_owned(folder: Path) -> list[str]:
    """Delete the files the marker of `folder` lists, then its empty folders; return what is left.

    Whatever remains (files someone added after the check) stays where it is.
    """
    owned = owned_files(folder) or []
    for rel in owned + [MARKER]:
        path = folder / rel
        if not rel.endswith("/") and (path.is_file() or path.is_symlink()):
            path.unlink()
    for dirpath, _, _ in sorted(os.walk(folder), key=lambda t: -len(t[0])):
        try:
            os.rmdir(dirpath)
        except OSError:  # not empty: it holds something the build did not write
            pass
    return entries(folder) if folder.exists() else []


class OutputLock:
    """An exclusive, non-blocking lock on one output folder, held for the whole build.

    The lock file sits beside the output and is removed on release. `flock` locks are
    released by the kernel when the holder dies, so a killed build never blocks the next one.
    """

    def __init__(self, out_dir: Path):
        self.path = out_dir.parent / f".{out_dir.name}.lock"
        self.out_dir = out_dir
        self._fd: int | None = None

    def __enter__(self) -> OutputLock:
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
                os.close(fd)
                if exc.errno in (errno.EAGAIN, errno.EACCES):
                    raise OutputRefused(f"another build (pid {holder or '?'}) is writing {self.out_dir}; "
                                        "wait for it to finish or choose another --out") from None
                raise
            # The previous holder may have removed the file between our open and our lock;
            # then we hold a lock on a name nobody else sees: start again.
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass
            os.close(self._fd)
            self._fd = None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def clean_stale(out_dir: Path) -> list[Path]:
    """Remove `.NAME.building-PID` and `.NAME.old-PID` folders of builds whose process is gone.

    Call it while holding the OutputLock. Staging folders hold only what a build wrote; an
    `.old-` folder is a previous dataset set aside, cleaned through its marker so that files
    someone added to it survive. Returns the folders removed.
    """
    pattern = re.compile(rf"^\.{re.escape(out_dir.name)}\.(building|old)-(\d+)$")
    removed = []
    for path in sorted(out_dir.parent.iterdir()):
        m = pattern.match(path.name)
        if not m or int(m.group(2)) == os.getpid() or _alive(int(m.group(2))) or not path.is_dir():
            continue
        if m.group(1) == "building":
            shutil.rmtree(path, ignore_errors=True)
        elif remove_owned(path):
            log.warning("%s holds files no build wrote; left in place", path)
            continue
        removed.append(path)
        log.info("removed %s, left by a build that is no longer running", path)
    return removed
