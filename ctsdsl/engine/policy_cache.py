"""Checked policies and policy headers kept on disk between runs, so that a command's start-up
does not parse and check the same files again (issue 14: cold `ctsdsl eval` <= 150 ms).

Parsing and checking a policy is a pure function of its files and of ctsdsl's code, so a result
is stored under a digest of both and used only when every input is the same again:

* a header (what choosing a policy reads) is kept under the digest of its file's text;
* a checked policy under the digest of its path and its own text, and before it is used the
  loader's I/O is done again without parsing or checking: each parent is looked up as `extends`
  names it and each data file is resolved, and their bytes must hash to what was read the first
  time. A parent or data file that changed, moved or appeared in the way is a miss, never a
  stale decision.

Every key includes a fingerprint of the code that computed the entry: each file of the package,
the bundled schemas and the parser libraries (path, size, modification time), with Python's version.

What the compiler generates for a checked policy (its source and the constants and rows it reads)
is kept under a digest of everything the checked policy was made from (`LoadedPolicy.program_key`:
each file's path and text, each data file's bytes) with the code fingerprint, so a cached start-up
imports neither the checker nor the compiler. The compiled code of that source is kept too, under a
digest of the source and the interpreter's version and bytecode format alone: compiling the same
source gives the same code object whatever produced it.

The folder is `$CTSDSL_CACHE_DIR`, else `$XDG_CACHE_HOME/ctsdsl`, else `~/.cache/ctsdsl`; an empty
`CTSDSL_CACHE_DIR` turns the cache off. Entries are pickles, so the folder is used only when it
is the user's own and no one else may write to it. A folder that cannot be made or written, or an
entry that cannot be read, costs only the time to parse and check: it is never an error.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import marshal
import os
import pickle
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import CodeType
from typing import Any

from .. import _resources

CACHE_ENV = "CTSDSL_CACHE_DIR"
_FORMAT = b"ctsdsl-policy-cache 1"
_MAX_ENTRIES = 256  # checked policies kept; past that the oldest go (a policy is about 150 kB)


def cache_dir() -> Path | None:
    """The folder entries are kept in, or None when caching is off or the folder is not safe to use."""
    given = os.environ.get(CACHE_ENV)
    if given is not None:
        if not given:
            return None
        folder = Path(given)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        folder = Path(base) / "ctsdsl"
    return folder if _safe(folder) else None


def _safe(folder: Path) -> bool:
    """Made if missing; usable only when owned by this user and writable by no one else."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = folder.stat()
    except OSError:
        return False
    getuid = getattr(os, "getuid", None)
    if getuid is not None and st.st_uid != getuid():
        return False
    return not st.st_mode & 0o022


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> bytes:
    """What the cached results were computed by: ctsdsl's files, its bundled schemas, lark and PyYAML."""
    digest = hashlib.sha256(_FORMAT + sys.version.encode())
    folders = [Path(__file__).resolve().parent.parent]
    try:
        folders.append(_resources.schema_path("claim.schema.json").parent)
    except Exception:  # noqa: BLE001 - a missing schema is reported where it is read, not here
        pass
    for library in ("lark", "yaml"):
        spec = importlib.util.find_spec(library)
        if spec is not None and spec.origin:
            folders.append(Path(spec.origin).parent)
    for folder in folders:
        stack = [folder]
        while stack:
            here = stack.pop()
            try:
                with os.scandir(here) as entries:
                    listed = sorted(entries, key=lambda e: e.name)
            except OSError:
                continue
            for entry in listed:
                if entry.name == "__pycache__" or entry.name.startswith("."):
                    continue
                try:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(Path(entry.path))
                    elif entry.name.endswith((".py", ".lark", ".json")):
                        st = entry.stat()
                        digest.update(f"{entry.path}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
                except OSError:
                    continue
    return digest.digest()


def _key(kind: str, *parts: str | bytes) -> str:
    digest = hashlib.sha256(code_fingerprint())
    for part in parts:
        digest.update(b"\0" + (part if isinstance(part, bytes) else part.encode("utf-8", "surrogatepass")))
    return f"{kind}-{digest.hexdigest()}"


def _read(name: str) -> Any:
    folder = cache_dir()
    if folder is None:
        return None
    try:
        with open(folder / name, "rb") as fh:
            return pickle.load(fh)  # noqa: S301 - our own folder, checked by _safe
    except Exception:  # noqa: BLE001 - missing, truncated or from another version: a miss
        return None


def _write(name: str, value: Any) -> None:
    folder = cache_dir()
    if folder is None:
        return
    try:
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - a value that cannot be kept is computed again next time
        return
    _write_bytes(folder, name, data)


def _write_bytes(folder: Path, name: str, data: bytes) -> None:
    try:
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(temporary, folder / name)  # readers see the old entry or the new one, never half
        except BaseException:
            os.unlink(temporary)
            raise
    except Exception:  # noqa: BLE001 - a full or read-only disk costs the next run its time, nothing else
        return


def _prune(kind: str) -> None:
    folder = cache_dir()
    if folder is None:
        return
    try:
        entries = [e for e in os.scandir(folder) if e.name.startswith(kind + "-")]
        if len(entries) <= _MAX_ENTRIES:
            return
        entries.sort(key=lambda e: e.stat().st_mtime_ns)
        for entry in entries[: len(entries) - _MAX_ENTRIES]:
            os.unlink(entry.path)
    except OSError:
        return


def _kept(name: str, tag: str, make: Callable[[], Any], prune: str | None = None) -> Any:
    """The value entry `name` holds as (tag, value); else `make()`'s, stored so (and the oldest entries
    of kind `prune` removed). A `make` that raises stores nothing."""
    stored = _read(name)
    if isinstance(stored, tuple) and len(stored) == 2 and stored[0] == tag:
        return stored[1]
    value = make()
    _write(name, (tag, value))
    if prune is not None:
        _prune(prune)
    return value


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


_HEADERS: dict[str, Any] = {}  # this process's headers by text digest


def header(text: str, parse: Callable[[], Any]) -> Any:
    """The header `parse()` gives for this text: from memory or disk when the text was parsed before.

    `parse` raises for a text that does not parse; such a text is never stored, so it raises each time.
    """
    digest = text_digest(text)
    if digest in _HEADERS:
        return _HEADERS[digest]
    value = _kept(_key("header", digest), digest, parse)
    if len(_HEADERS) >= 4096:
        _HEADERS.clear()
    _HEADERS[digest] = value
    return value


def policy_key(path: Path, text: str, context: str) -> str:
    """The key of a checked policy: its path as given and resolved, where parents are looked up, its text."""
    return _key("policy", str(path), str(path.resolve()), context, text_digest(text))


def load_policy(key: str, still_valid: Callable[[Any, Any], bool]) -> Any:
    """The checked policy stored under `key`, if `still_valid(policy, inputs)` says its inputs are unchanged."""
    stored = _read(key)
    if not (isinstance(stored, tuple) and len(stored) == 3 and stored[0] == key):
        return None
    try:
        return stored[1] if still_valid(stored[1], stored[2]) else None
    except Exception:  # noqa: BLE001 - an entry that cannot be checked is not used
        return None


def store_policy(key: str, policy: Any, inputs: Any) -> None:
    """Keep a checked policy with what its inputs were (`load_policy` compares them)."""
    _write(key, (key, policy, inputs))
    _prune("policy")


def derived(kind: str, inputs: tuple[str, ...], make: Callable[[], Any]) -> Any:
    """What `make()` derives from `inputs` alone: from disk when it was made before. `make`'s value must pickle.

    The inputs name a checked policy (`LoadedPolicy.program_key`, everything it was made from) and
    what else the value depends on: an evaluator's compiled program ("program", traced or plain:
    generating it is most of a cached start-up, about 12 ms with the compiler's import, and
    unpickling it a fiftieth of that) or the SQL backend's script ("sql", with the versions of
    DuckDB and sqlglot). Entries of each kind are pruned apart."""
    name = _key(kind, *inputs)
    return _kept(name, name, make, prune=kind)


def compiled(source: str, filename: str) -> CodeType:
    """`compile(source, filename, "exec")`, read from disk when this source was compiled before.

    Compiling an evaluator's generated Python is about half of building it (15-20 ms for Medicare
    2025). The entry is marshalled code, which only this interpreter's version reads back; its name
    and its first bytes hold the digest of the source, the file name and that version.
    """
    digest = hashlib.sha256(b"\0".join((_FORMAT, sys.version.encode(), importlib.util.MAGIC_NUMBER,
                                        str(sys.flags.optimize).encode(), filename.encode("utf-8", "surrogatepass"),
                                        source.encode("utf-8", "surrogatepass")))).digest()
    name = f"code-{digest.hex()}"
    folder = cache_dir()
    if folder is not None:
        try:
            with open(folder / name, "rb") as fh:
                data = fh.read()
            if data[:len(digest)] == digest:
                code = marshal.loads(data[len(digest):])  # our own folder, checked by _safe
                if isinstance(code, CodeType):
                    return code
        except Exception:  # noqa: BLE001 - missing, truncated or unreadable: compiled again
            pass
    code = compile(source, filename, "exec")
    if folder is not None:
        _write_bytes(folder, name, digest + marshal.dumps(code))
        _prune("code")
    return code
