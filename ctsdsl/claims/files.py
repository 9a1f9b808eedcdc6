"""Reading claim files: JSON, YAML and JSON Lines, each error located (file, line, column).

Repeated keys are refused at the repeat, YAML's surprises (base-60 numbers, aliases that
expand without bound, digits other than ASCII) are refused, and a JSON Lines file is streamed
a record at a time. What a claim must contain is claims.py's job (validation); this module
only reads what the file says.
"""

from __future__ import annotations

import contextlib
import json
import json.decoder
import json.scanner
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import NO_SPAN, ClaimError, Diagnostic, Span
from ..limits import MAX_CLAIM_FILE_BYTES, MAX_JSONL_LINE_BYTES, MAX_YAML_CLAIM_CHARS

try:  # the `fast` extra: a C JSON parser for the records of a .jsonl file
    import orjson
except ImportError:  # pragma: no cover - exercised by tests/test_claims.py with it hidden
    orjson = None  # type: ignore[assignment]

_KINDS = {".json": "json", ".jsonl": "jsonl", ".yaml": "yaml", ".yml": "yaml"}
_DUPLICATE_HINT = "a field may appear only once in an object; remove or merge the repeats"
_LIST_HINT = "a claim file holds one claim object or a list of them; a .jsonl file, one claim per line"


def _fail(code: str, message: str, source: str, span: Span = NO_SPAN, hint: str = "", text: str | None = None):
    return ClaimError(Diagnostic(code, message, source, span, hint, source_text=text))


def _span_at(text: str | bytes, offset: int, first_line: int = 1) -> Span:
    if isinstance(text, str):
        column, newlines = offset - text.rfind("\n", 0, offset), text.count("\n", 0, offset)
    else:
        column, newlines = offset - text.rfind(b"\n", 0, offset), text.count(b"\n", 0, offset)
    return Span(newlines + first_line, column, 0, 0)


def file_kind(path: Path) -> str:
    if path.suffix.lower() not in _KINDS:
        raise _fail("claim-file-type", f"cannot tell the format of {path}", str(path),
                    hint="name claim files .json, .jsonl, .yaml or .yml")
    return _KINDS[path.suffix.lower()]


def _unreadable(path: Path, exc: OSError) -> ClaimError:
    if isinstance(exc, FileNotFoundError):
        return _fail("claim-file-not-found", f"no such claim file: {path}", str(path))
    return _fail("claim-file-unreadable", f"cannot read {path}: {exc.strerror or exc}", str(path))


def _not_utf8(name: str, data: bytes, exc: UnicodeDecodeError | None, first_line: int = 1) -> ClaimError:
    if exc is None:
        return _fail("claim-encoding", f"{name} is not a text file (it holds NUL bytes)", name,
                     hint="claims are UTF-8 JSON, JSON Lines or YAML")
    # Columns count bytes here: undecodable text has no better measure.
    return _fail("claim-encoding", f"invalid UTF-8 (byte 0x{data[exc.start]:02x})", name,
                 _span_at(data, exc.start, first_line), "save the file as UTF-8")


def _read_text(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_CLAIM_FILE_BYTES:
            raise _fail("claim-too-large", f"{path} is larger than {MAX_CLAIM_FILE_BYTES} bytes", str(path),
                        hint="split it, or write it as .jsonl, which is read a line at a time")
        if not path.is_file():  # a FIFO or a device: the read might never end
            raise _fail("claim-file-unreadable", f"{path} is not a regular file", str(path))
        data = path.read_bytes()
    except OSError as exc:
        raise _unreadable(path, exc) from None
    if b"\0" in data:
        raise _not_utf8(str(path), data, None)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _not_utf8(str(path), data, exc) from None


class _DuplicateKey(ValueError):
    pass


def _unique_pairs(pairs: list[tuple[str, object]]) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):  # only then pay for finding which key repeats
        raise _DuplicateKey(next(key for key, n in Counter(key for key, _ in pairs).items() if n > 1))
    return obj


_DECODE = json.JSONDecoder(object_pairs_hook=_unique_pairs).decode


def _duplicate_offset(text: str) -> int:
    # The C scanner cannot say where a hook failed, so re-parse with the slow
    # pure-Python one, which lets us see each object's start: only on the error path.
    found: list[int] = []

    # JSONObject, scanstring, parse_object and py_make_scanner are the json module's
    # undocumented internals, which typeshed does not describe; hence the ignores.
    def parse_object(s_and_end: tuple[str, int], strict: bool, scan_once: Any, *rest: Any) -> Any:
        try:
            return json.decoder.JSONObject(s_and_end, strict, scan_once, *rest)  # type: ignore[attr-defined]
        except _DuplicateKey:  # the innermost object fails first: walk its members to the repeat
            s, pos = s_and_end
            seen: set[str] = set()
            ws = json.decoder.WHITESPACE.match  # type: ignore[attr-defined]
            while not found:
                pos = ws(s, pos).end()
                key, end = json.decoder.scanstring(s, pos + 1, strict)  # type: ignore[attr-defined]
                if key in seen:
                    found.append(pos)
                seen.add(key)
                pos = ws(s, scan_once(s, ws(s, ws(s, end).end() + 1).end())[1]).end() + 1
            raise

    decoder = json.JSONDecoder(object_pairs_hook=_unique_pairs)
    decoder.parse_object = parse_object  # type: ignore[attr-defined]
    decoder.scan_once = json.scanner.py_make_scanner(decoder)  # type: ignore[attr-defined]
    with contextlib.suppress(_DuplicateKey):
        decoder.decode(text)
    return found[0] if found else 0


def parse_json(text: str, name: str, first_line: int = 1) -> object:
    shown = text if first_line == 1 else None  # one .jsonl record: the excerpt's line numbers would be wrong
    try:
        # One decoder for every record: json.loads(text, object_pairs_hook=...) builds a new one per call.
        # json.loads alone explains a stray BOM, so such text still goes through it.
        return _DECODE(text) if not text.startswith("\ufeff") else json.loads(text, object_pairs_hook=_unique_pairs)
    except json.JSONDecodeError as exc:
        hint = _LIST_HINT if exc.msg == "Extra data" else "JSON wants double-quoted names and no trailing commas"
        raise _fail("claim-syntax", f"invalid JSON: {exc.msg}", name, _span_at(text, exc.pos, first_line),
                    hint, shown) from None
    except _DuplicateKey as exc:
        raise _fail("claim-duplicate-key", f"duplicate key {show_value(exc.args[0])}", name,
                    _span_at(text, _duplicate_offset(text), first_line), _DUPLICATE_HINT, shown) from None
    except RecursionError:
        raise _fail("claim-syntax", "invalid JSON: nested too deeply", name, Span(first_line, 1),
                    "a claim is an object of fields, lines and flags, a few levels deep") from None
    except ValueError as exc:  # an integer past Python's 4300-digit limit
        raise _fail("claim-syntax", "invalid JSON: a number with more than 4300 digits" if "digits" in str(exc)
                    else f"invalid JSON: {exc}", name, Span(first_line, 1)) from None


def parse_yaml(text: str, name: str) -> object:
    if len(text) > MAX_YAML_CLAIM_CHARS:  # PyYAML reads about 300 KB a second
        raise _fail("claim-too-large", f"{name} is larger than {MAX_YAML_CLAIM_CHARS} characters of YAML", name,
                    hint="write large batches as .jsonl (or .json), which is read a hundred times faster")
    import yaml

    from .yaml_loader import StrictYamlLoader, YamlDuplicateKeyError, YamlNumberTooLongError

    try:
        return yaml.load(text, Loader=StrictYamlLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        span = Span(mark.line + 1, mark.column + 1) if mark else NO_SPAN
        if isinstance(exc, YamlDuplicateKeyError):
            raise _fail("claim-duplicate-key", f"duplicate key: {exc.problem}", name, span, _DUPLICATE_HINT,
                        text) from None
        if isinstance(exc, YamlNumberTooLongError):
            raise _fail("claim-syntax", f"invalid YAML: {exc.problem}", name, span,
                        "no count or amount has that many digits; quote it if it is text", text) from None
        raise _fail("claim-syntax", f"invalid YAML: {exc.problem or exc.context}", name, span,
                    "check the indentation; quote values holding ': ' or starting with a special character",
                    text) from None
    except RecursionError:
        raise _fail("claim-syntax", "invalid YAML: nested too deeply", name,
                    hint="a claim is a mapping of fields, lines and flags, a few levels deep") from None
    except (yaml.YAMLError, ValueError, OverflowError) as exc:
        raise _fail("claim-syntax", f"invalid YAML: {exc}", name) from None


def jsonl_lines(fh: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """(line number, line) for each non-blank line of a JSON Lines file opened in binary mode.

    No more than MAX_JSONL_LINE_BYTES + 1 bytes of a line are ever held: a longer
    line comes back cut to that, which `parse_jsonl_record` refuses, and the rest
    of it is skipped a megabyte at a time, so a file with no newlines cannot fill memory.
    """
    lineno = 0
    while raw := fh.readline(MAX_JSONL_LINE_BYTES + 1):
        lineno += 1
        if len(raw) > MAX_JSONL_LINE_BYTES and not raw.endswith(b"\n"):
            while (rest := fh.readline(1 << 20)) and not rest.endswith(b"\n"):
                pass
        if raw.strip():
            yield lineno, raw


_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_NUMBER = b"0" * 19  # 19 digits in a row: an integer orjson might read as a float (past 64 bits)
_NOT_PARSED = object()


def _keys_in(value: object) -> int:
    """How many keys the objects in a parsed JSON value hold, all levels together."""
    count = 0
    if type(value) is dict:
        count = len(value)
        value = value.values()
    elif type(value) is not list:
        return 0
    for item in value:
        if type(item) is dict or type(item) is list:
            count += _keys_in(item)
    return count


def _orjson_record(raw: bytes) -> object:
    """`raw` parsed by orjson when that is certainly what `parse_json` gives, else _NOT_PARSED.

    orjson keeps the last of repeated keys, which the contract refuses. Every key is followed by a
    colon, and without a `\\u` escape orjson writes each string back as the record spelt it, so a
    record repeats no key exactly when it holds as many colons as orjson's text of what it parsed
    (counting them is a third of the time of walking the value for its keys; a record with an
    escape is walked, and one whose colons outnumber its keys takes the standard parser, which
    then decides). orjson also reads an integer past 64 bits as a float, so a record with 19
    digits in a row takes the standard parser too, as does anything orjson refuses (a BOM, NaN, a
    lone surrogate, invalid UTF-8): the standard path then accepts it or says why not, as it
    always has.
    """
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _NOT_PARSED
    colons = raw.count(b":")
    if colons != (_keys_in(obj) if b"\\u" in raw else orjson.dumps(obj).count(b":")) \
            or _LONG_NUMBER in raw.translate(_DIGITS_AS_ZERO):
        return _NOT_PARSED
    return obj


def parse_jsonl_record(raw: bytes, name: str, lineno: int) -> object:
    """One non-blank line of a .jsonl file, parsed but not validated: the object, or the `ClaimError` saying why not.

    The batch evaluator calls this in worker processes, on lines the main process read.
    """
    if len(raw) > MAX_JSONL_LINE_BYTES:
        return _fail("claim-too-large", f"a record of more than {MAX_JSONL_LINE_BYTES} bytes, the limit", name,
                     Span(lineno, 1), "split the claim, or check that the file has a newline after each record")
    if orjson is not None:  # the usual record in a third of the time; `parse_json` for the rest
        obj = _orjson_record(raw)
        if obj is not _NOT_PARSED:
            return obj
    try:
        # the line's own newline would put an "unexpected end" error on the next line
        return parse_json(raw.rstrip(b"\r\n").decode("utf-8-sig" if lineno == 1 else "utf-8"), name, lineno)
    except UnicodeDecodeError as exc:
        return _not_utf8(name, raw, exc, lineno)
    except ClaimError as exc:
        return exc


def iter_jsonl(path: Path) -> Iterator[tuple[str, object]]:
    """Yield (location, raw object or ClaimError) per non-blank line, one line in memory at a time."""
    name, records = str(path), 0
    try:
        with open(path, "rb") as fh:
            if b"\0" in fh.peek(8192):
                raise _not_utf8(name, b"", None)
            for lineno, raw in jsonl_lines(fh):
                records += 1
                yield f"{name}:{lineno}", parse_jsonl_record(raw, name, lineno)
    except OSError as exc:
        raise _unreadable(path, exc) from None
    if not records:
        raise _fail("claim-empty", f"{name} holds no claims", name, hint=_LIST_HINT)


def load_claim_file(path: str | Path) -> list[tuple[str, object]]:
    """Read the claims in a .json, .jsonl, .yaml or .yml file, without validating them.

    A JSON or YAML file holds one claim object or a list of them; a .jsonl file
    holds one claim per line, and blank lines are skipped.

    Args:
        path: The claim file.

    Returns:
        ``(location, raw_object)`` pairs; the location is the path, ``path[i]``
        (0-based) for an item of a list, or ``path:line`` for a .jsonl record.

    Raises:
        ClaimError: If the file is missing, unreadable, larger than
            MAX_CLAIM_FILE_BYTES, not UTF-8 text, empty, not valid JSON/YAML, or
            repeats a key. For .jsonl the error holds one diagnostic per bad line.
    """
    path, name = Path(path), str(path)
    if file_kind(path) == "jsonl":
        # Read whole like the other formats, so bounded like them; `iter_claims` streams.
        with contextlib.suppress(OSError):  # iter_jsonl reports a missing or unreadable file
            if path.stat().st_size > MAX_CLAIM_FILE_BYTES:
                raise _fail("claim-too-large", f"{path} is larger than {MAX_CLAIM_FILE_BYTES} bytes", name,
                            hint="`ctsdsl batch` (or ctsdsl.evaluate_all) streams a .jsonl file of any size")
        records = list(iter_jsonl(path))
        bad = [d for _, item in records if isinstance(item, ClaimError) for d in item.diagnostics]
        if bad:
            raise ClaimError(bad)
        return records
    text = _read_text(path)
    doc = None if not text.strip() else parse_json(text, name) if file_kind(path) == "json" else parse_yaml(text, name)
    if doc is None or doc == []:  # YAML gives None for a file of comments only
        raise _fail("claim-empty", f"{name} holds no claims", name, hint=_LIST_HINT)
    if isinstance(doc, list):
        return [(f"{name}[{i}]", item) for i, item in enumerate(doc)]
    return [(name, doc)]


def show_value(value: object) -> str:
    """A value as a message quotes it: JSON, at most 60 characters, a lone surrogate kept escaped."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    # A lone surrogate stays escaped: the message must be writable as UTF-8.
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= 60 else text[:57] + "..."
