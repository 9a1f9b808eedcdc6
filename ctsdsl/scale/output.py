"""Where `ctsdsl batch` writes: a regular file replaced atomically, or a stream written as it goes.

A regular file (or one that does not exist yet) is written beside itself under a temporary name
and moved over the target only once the run is done, so a reader sees the old file or the new
one, never half of it; it keeps the target's permissions, and a new file gets those any new file
gets (0666 less the umask). A FIFO or a device (`/dev/null`, a terminal) cannot be replaced, and
is written as a stream. A symbolic link is followed: the link stays, and its target gets the
output, as `ctsdsl fmt` treats a linked policy.

Every write names the file it failed on, so a full disk under `--errors` says `--errors`'s file.
"""

from __future__ import annotations

import io
import os
import stat
import sys
from pathlib import Path
from typing import TextIO

from ..errors import CtsdslError, Diagnostic

STDOUT = "standard output"
# A name that is not UTF-8 reaches an error record as a lone surrogate: written as its \udcXX
# escape, which a JSON reader reads back as the same string, rather than failing the run.
_ERRORS = "backslashreplace"


class BatchIOError(CtsdslError):
    """Reading the claims or writing the decisions failed (a full disk, a folder that does not exist)."""

    exit_code = 2


def io_error(exc: OSError, where: str) -> BatchIOError:
    """The error for a failed read or write of `where`, as the user named it (never a temporary file)."""
    return BatchIOError(Diagnostic("batch-io", f"cannot write or read {where}: {exc.strerror or exc}", where,
                                   hint="nothing was written; the previous output, if any, is unchanged"))


def shown(path: str | Path) -> str:
    """A path as messages show it: a name that is not UTF-8 keeps its bytes as \\x escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def drop_stdout() -> None:
    """Point stdout at /dev/null after a write to it failed, so that the interpreter's last flush of
    what could not be written does not fail again on the way out (Python's advice for a closed pipe)."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):  # an in-memory stream: nothing to do
        pass


def _refuse(message: str, where: str, hint: str) -> BatchIOError:
    return BatchIOError(Diagnostic("batch-output", message, where, hint=hint))


def _is_stream(path: Path) -> bool:
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)


def _is_device(path: Path) -> bool:
    try:
        return stat.S_ISCHR(os.stat(path).st_mode)
    except OSError:
        return False


def _same_file(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)  # a hard link
    except OSError:
        return False


def check_targets(source: Path, output: str | Path | None, errors: str | Path | None) -> None:
    """Refuse outputs that would destroy what the run reads or writes, before anything is read.

    Raises:
        BatchIOError: -o or --errors names the claim file, or both name the same file (all the
            decisions were lost to the errors), or a folder.
    """
    named = [(flag, Path(target)) for flag, target in (("-o", output), ("--errors", errors)) if target]
    for flag, target in named:
        if target.is_dir():
            raise _refuse(f"{flag} {shown(target)} is a folder: name a file", shown(target),
                          "name the file to write, e.g. decisions.jsonl")
        if _same_file(target, source):
            raise _refuse(f"{flag} {shown(target)} is the claim file itself: writing it would destroy the claims",
                          shown(target), "name another file for the output")
    # Two writers of one file: the second replaces the first. /dev/null twice is harmless.
    if len(named) == 2 and _same_file(named[0][1], named[1][1]) and not _is_device(named[0][1]):
        raise _refuse(f"-o and --errors both name {shown(named[0][1])}: the errors would replace the decisions",
                      shown(named[0][1]), "name two files, e.g. -o decisions.jsonl --errors errors.jsonl")


class OutputFile:
    """A text output: standard output, a stream, or a regular file replaced on `publish`."""

    def __init__(self, target: str | Path | None) -> None:
        self.temp: Path | None = None
        self.target: Path | None = None
        if target is None:
            self.name, self.fh = STDOUT, sys.stdout
            return
        path = Path(target)
        self.name = shown(path)
        try:
            if _is_stream(path):
                self.fh = open(path, "w", encoding="utf-8", errors=_ERRORS, newline="\n")  # noqa: SIM115
                return
            self.target = path.resolve()  # through a symbolic link: the link stays, its target is replaced
            self.fh = self._create_temp(self.target)
        except OSError as exc:
            raise io_error(exc, self.name) from None

    def _create_temp(self, target: Path) -> TextIO:
        # os.open with 0o666 lets the kernel apply the umask (and a folder's default ACL), as for any
        # new file; mkstemp would make it 0600, which replacing the target would then make it too.
        temp = target.with_name(f".{target.name}.{os.urandom(4).hex()}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        self.temp = temp
        try:
            if target.exists():
                os.chmod(fd, stat.S_IMODE(os.stat(target).st_mode))  # the file keeps its permissions
            return os.fdopen(fd, "w", encoding="utf-8", errors=_ERRORS, newline="\n")
        except BaseException:
            os.close(fd)
            raise

    def write(self, text: str) -> None:
        try:
            self.fh.write(text)
        except OSError as exc:
            if self.fh is sys.stdout:
                drop_stdout()
            raise io_error(exc, self.name) from None

    def finish(self) -> None:
        """Write out everything still buffered (where a full disk shows), but replace nothing yet."""
        try:
            if self.fh is sys.stdout:
                self.fh.flush()
            else:
                self.fh.close()
        except OSError as exc:
            if self.fh is sys.stdout:
                drop_stdout()
            raise io_error(exc, self.name) from None

    def publish(self) -> None:
        """Move a finished regular file over its target; a stream is already where it goes."""
        if self.temp is not None and self.target is not None:
            try:
                os.replace(self.temp, self.target)
            except OSError as exc:
                raise io_error(exc, self.name) from None
            self.temp = None

    def abandon(self) -> None:
        """Drop what was written (a regular file's target is left as it was); never raises."""
        if self.fh is not sys.stdout:
            try:
                self.fh.close()
            except OSError:  # the full disk that stopped the run also fails the last flush
                pass
        if self.temp is not None:
            try:
                self.temp.unlink(missing_ok=True)
            except OSError:
                pass
            self.temp = None


def publish_all(out: OutputFile, err: OutputFile | None) -> None:
    """Both outputs written out first, and only then either replaced: a full disk under --errors must
    not leave new decisions beside the old errors."""
    for done in (out, err):
        if done:
            done.finish()
    for done in (out, err):
        if done:
            done.publish()


def abandon_all(out: OutputFile, err: OutputFile | None) -> None:
    """Drop what both outputs hold; their targets stay as they were."""
    out.abandon()
    if err:
        err.abandon()
