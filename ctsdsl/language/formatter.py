"""Lay out policy files canonically (`ctsdsl fmt`), every comment kept beside what it annotated.

Expressions are printed, and wrapped within the width, by `ctsdsl.language.printer`.
"""

from __future__ import annotations

import codecs
import dataclasses
import re

from . import nodes as n
from .parser import one_line_end, parse
# The printer is its own module (the diff, docs, explain and the compiler print through it too); its
# names are re-exported here, where callers have long imported them from.
from .printer import format_expr, format_literal, format_string, wrap_expr
from .source import parse_source, read_policy_text

_TOKEN = re.compile(r'"(?:\\.|[^"\\\n])*"|#[^\n]*')


@dataclasses.dataclass(frozen=True)
class FormatterOptions:
    """Knobs of the canonical layout. The defaults are the layout the bundled policies use."""

    width: int = 100  # lines longer than this are wrapped where the syntax allows
    indent: str = "  "  # one level of block indentation


DEFAULT_OPTIONS = FormatterOptions()


@dataclasses.dataclass(frozen=True)
class Comment:
    line: int
    column: int
    text: str
    standalone: bool  # alone on its line, rather than after code


def find_comments(text: str) -> list[Comment]:
    """Every `#` comment outside a string, with its position."""
    comments = []
    line_starts = [0] + [m.end() for m in re.finditer(r"\n", text)]
    import bisect
    for m in _TOKEN.finditer(text):
        if not m.group(0).startswith("#"):
            continue
        line = bisect.bisect_right(line_starts, m.start())
        start_of_line = line_starts[line - 1]
        standalone = text[start_of_line:m.start()].strip() == ""
        comments.append(Comment(line, m.start() - start_of_line + 1, m.group(0).rstrip(), standalone))
    return comments


def split_text(raw: str, first_room: int, room: int) -> list[str]:
    """Cut text into pieces at spaces outside `{...}` holes, each piece at most `room` wide when possible."""
    breaks = []
    depth = 0
    i = 0
    while i < len(raw):
        pair = raw[i:i + 2]
        if pair in ("{{", "}}"):
            i += 2
            continue
        ch = raw[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth = max(0, depth - 1)
        elif ch == " " and depth == 0:
            breaks.append(i + 1)  # the space stays at the end of the piece before
        i += 1
    pieces, start, limit = [], 0, first_room
    last_ok = None
    for b in breaks + [len(raw)]:
        if len(format_string(raw[start:b])) > limit and last_ok is not None:
            pieces.append(raw[start:last_ok])
            start, limit = last_ok, room
        last_ok = b
    pieces.append(raw[start:])
    return [p for p in pieces if p] or [""]


class Formatter:
    """Lays out a parsed policy canonically, putting every comment back beside what it was next to."""

    def __init__(self, text: str, options: FormatterOptions = DEFAULT_OPTIONS, source_name: str = "<string>"):
        self.text = text = one_line_end(text)  # the parser's lines, which the comments must match
        self.opts = options
        self.policy = parse(text, source_name)
        self.comments = find_comments(text)
        self.used: set[int] = set()
        self.out: list[str] = []
        self.source_lines = text.split("\n")  # not splitlines(): a form feed inside a string is no line break

    # ------------------------------------------------------------ comments

    def _take(self, first: int, last: int, standalone: bool | None = None) -> list[Comment]:
        taken = []
        for i, c in enumerate(self.comments):
            if i in self.used or not first <= c.line <= last:
                continue
            if standalone is not None and c.standalone != standalone:
                continue
            self.used.add(i)
            taken.append(c)
        return taken

    def _blank_before(self, line: int) -> bool:
        return line >= 2 and self.source_lines[line - 2].strip() == ""

    def emit_comments(self, comments: list[Comment], indent: str) -> None:
        for c in comments:
            if self._blank_before(c.line) and self.out and self.out[-1] != "" and not self.out[-1].endswith("{"):
                self.out.append("")
            self.out.append(indent + c.text)

    def attach_trailing(self, line: int, start: int) -> None:
        """A comment after code on `line` goes at the end of the last line emitted (from index `start`)."""
        for c in self._take(line, line, standalone=False):
            if len(self.out) > start:
                self.out[-1] += "  " + c.text

    # ------------------------------------------------------------ layout helpers

    def wrap(self, prefix: str, e: n.Expr, suffix: str = "", *, entry: bool = True) -> list[str]:
        """`prefix + expr + suffix` within the width, wrapped as `printer.wrap_expr` does; an entry of a
        block is indented by the block, so it has that much less room."""
        return wrap_expr(e, prefix, self.room(entry), suffix)

    def room(self, entry: bool) -> int:
        return self.opts.width - (len(self.opts.indent) if entry else 0)

    def strings(self, prefix: str, raw: str, *, entry: bool = True) -> list[str]:
        width = self.room(entry)
        pieces = split_text(raw, max(20, width - len(prefix)), max(20, width - len(prefix)))
        pad = " " * len(prefix)
        return [(prefix if i == 0 else pad) + format_string(p) for i, p in enumerate(pieces)]

    def value_text(self, v) -> str:
        return format_expr(v)

    def set_lines(self, prefix: str, v: n.SetLiteral, suffix: str) -> list[str]:
        one = prefix + format_expr(v) + suffix
        if len(one) <= self.opts.width or not v.items:
            return [one]
        pad = " " * (len(prefix) + 1)
        lines, current = [], prefix + "{"
        items = [format_literal(i) for i in v.items]
        for k, item in enumerate(items):
            piece = item + ("," if k < len(items) - 1 else "}")
            candidate = current + ("" if current.endswith("{") else " ") + piece
            if len(candidate) > self.opts.width and not current.endswith("{"):
                lines.append(current)
                current = pad + piece
            else:
                current = candidate
        lines.append(current + suffix)
        return lines

    @staticmethod
    def cites(cites: tuple[n.Citation, ...]) -> str:
        return f" cites {', '.join(c.source for c in cites)}" if cites else ""

    # ------------------------------------------------------------ items

    def format(self) -> str:
        prev_end = 0
        prev_block = False
        for item in self.policy.items:
            start = item.span.line
            if getattr(item, "override", False):
                start = self._keyword_line(start, "override")
            leading = self._take(prev_end + 1, start - 1, standalone=True)
            is_block = isinstance(item, (n.PolicyHeader, n.Source, n.Rule, n.Fee)) or \
                (isinstance(item, n.Param) and bool(item.dated))
            first_line = leading[0].line if leading else start
            if self.out and (is_block or prev_block or self._blank_before(first_line)):
                self.out.append("")
            self.emit_comments(leading, "")
            if leading and self._blank_before(start):  # a banner stays apart from the item below it
                self.out.append("")
            if not is_block:  # after code on an inner line of a wrapped item: above it (see `block`)
                self.emit_comments(self._take(start, item.span.end_line - 1), "")
            mark = len(self.out)
            self.item(item)
            self.attach_trailing(item.span.end_line, mark)
            prev_end, prev_block = item.span.end_line, is_block
        rest = self._take(prev_end + 1, 10 ** 9)
        if rest and self.out:
            self.out.append("") if self._blank_before(rest[0].line) else None
        self.emit_comments(rest, "")
        leftovers = [c for i, c in enumerate(self.comments) if i not in self.used]
        assert not leftovers, leftovers  # every comment is placed somewhere
        return "\n".join(self.out).rstrip("\n") + "\n" if self.out else ""  # an empty file stays empty

    def _keyword_line(self, line: int, keyword: str) -> int:
        while line > 1 and not self.source_lines[line - 1].lstrip().startswith(keyword):
            line -= 1
        return line

    def item(self, item) -> None:
        method = getattr(self, "item_" + type(item).__name__.lower())
        method(item)

    def block(self, head: str, node, entries: list[tuple[str, list[str]]]) -> None:
        """A `{ ... }` block whose entries keep the comments that stood beside them."""
        indent = self.opts.indent
        header_line = node.span.line
        self.out.append(head + " {")
        spans = dict(node.entry_spans)
        # A comment on the header's line belongs to an entry (or the closing brace) sharing that line.
        if node.span.end_line != header_line and all(s.line != header_line for s in spans.values()):
            self.attach_trailing(header_line, len(self.out) - 1)
        for key, lines in entries:
            span = spans.get(key)
            last = None
            if span is not None:
                last = min(span.end_line, node.span.end_line - 1)  # a comment after the closing brace stays after it
                self.emit_comments(self._take(header_line + 1, span.end_line, standalone=True), indent)
                # After code on an inner line of a wrapped entry: its lines are laid out anew, so the
                # comment goes above the entry, in order, rather than beside an unrelated line.
                self.emit_comments(self._take(span.line, last - 1), indent)
            mark = len(self.out)
            self.out.extend(indent + line for line in lines)
            if span is not None and last is not None and last >= span.line:
                self.attach_trailing(last, mark)
        self.emit_comments(self._take(header_line + 1, node.span.end_line - 1), indent)
        self.out.append("}")

    def item_policyheader(self, h: n.PolicyHeader) -> None:
        entries = []
        if h.title:
            entries.append(("title", [f"title {format_string(h.title)}"]))
        if h.payer:
            entries.append(("payer", [f"payer {format_string(h.payer)}"]))
        if h.version:
            entries.append(("version", [f"version {format_string(h.version)}"]))
        if h.effective_from:
            entries.append(("effective", [f"effective {h.effective_from}" + (f" to {h.effective_to}"
                                                                               if h.effective_to else "")]))
        if h.extends:
            entries.append(("extends", [f"extends {format_string(h.extends)}"]))
        if h.governs:
            entries.append(("governs", self._list_lines("governs ", [format_string(g) for g in h.governs])))
        if h.changes:
            entries.append(("changes", self.strings("changes ", h.changes)))
        if h.note:
            entries.append(("note", self.strings("note ", h.note)))
        self.block(f"policy {format_string(h.name)}", h, entries)

    def _list_lines(self, prefix: str, items: list[str], width: int | None = None) -> list[str]:
        """Items after `prefix`, comma-separated, wrapped under the first one; `width` defaults to a block entry's."""
        width = self.opts.width - len(self.opts.indent) if width is None else width
        lines, current = [], prefix
        for k, item in enumerate(items):
            piece = item + ("," if k < len(items) - 1 else "")
            candidate = current + ("" if current == prefix else " ") + piece
            if len(candidate) > width and current != prefix and not current.strip() == "":
                lines.append(current)
                current = " " * len(prefix) + piece
            else:
                current = candidate
        lines.append(current)
        return lines

    def item_source(self, s: n.Source) -> None:
        entries = []
        if s.title:
            entries.append(("title", [f"title {format_string(s.title)}"]))
        if s.url:
            entries.append(("url", [f"url {format_string(s.url)}"]))
        if s.date:
            entries.append(("date", [f"date {s.date}"]))
        if s.confidence:
            entries.append(("confidence", [f"confidence {s.confidence}"]))
        if s.note:
            entries.append(("note", self.strings("note ", s.note)))
        self.block(f"source {s.id}", s, entries)

    def item_declaredfield(self, f: n.DeclaredField) -> None:
        entries = []
        if f.title:
            entries.append(("title", [f"title {format_string(f.title)}"]))
        if f.type_name:
            bound = (f" matching {format_string(f.pattern)}" if f.pattern is not None else
                     f" from {format_literal(f.low)} to {format_literal(f.high)}" if f.low and f.high else "")
            entries.append(("type", [f"type {f.type_name}{bound}"]))
        if f.example is not None:
            entries.append(("example", [f"example {format_literal(f.example)}"]))
        if f.cites:
            entries.append(("cites", [self.cites(f.cites).strip()]))
        if f.note:
            entries.append(("note", self.strings("note ", f.note)))
        self.block(f"field {f.path}", f, entries)

    def _override(self, item) -> str:
        return "override " if getattr(item, "override", False) else ""

    def item_param(self, p: n.Param) -> None:
        head = f"{self._override(p)}param {p.name}" + (f": {p.type_name}" if p.type_name else "")
        if not p.dated:
            prefix = head + " = "
            suffix = self.cites(p.cites)
            if isinstance(p.value, n.SetLiteral):
                self.out.extend(self.set_lines(prefix, p.value, suffix))
            else:
                assert p.value is not None  # a parameter without dated values has a plain one
                self.out.append(prefix + format_expr(p.value) + suffix)
            return
        self.out.append(head + " {")
        if p.span.end_line != p.span.line and all(dv.span.line != p.span.line for dv in p.dated):
            self.attach_trailing(p.span.line, len(self.out) - 1)
        for dv in p.dated:
            self.emit_comments(self._take(p.span.line + 1, dv.span.line - 1, standalone=True), self.opts.indent)
            mark = len(self.out)
            prefix = f"{self.opts.indent}from {dv.start}" + (f" to {dv.end}" if dv.end else "") + " = "
            suffix = self.cites(dv.cites)
            if isinstance(dv.value, n.SetLiteral):
                self.out.extend(self.set_lines(prefix, dv.value, suffix))
            else:
                self.out.append(prefix + format_expr(dv.value) + suffix)
            for line in range(dv.span.line, min(dv.span.end_line, p.span.end_line - 1) + 1):
                self.attach_trailing(line, mark)
        self.emit_comments(self._take(p.span.line + 1, p.span.end_line - 1), self.opts.indent)
        self.out.append("}")

    def item_table(self, t: n.Table) -> None:
        self.out.append(f"{self._override(t)}table {t.name} from {format_string(t.path)} key {t.key}"
                        + (f" dated {t.dated_by}" if t.dated_by else "") + self.cites(t.cites))

    def item_let(self, let: n.Let) -> None:
        self.out.extend(self.wrap(f"{self._override(let)}let {let.name} = ", let.expr, entry=False))

    def item_disable(self, d: n.Disable) -> None:
        # The reason wraps as a message does; `cites` follows its last piece while that fits the width,
        # else goes on a line of its own under the reason, so that no line outgrows the width by its cites.
        prefix = f"disable {d.rule} because "
        lines = self.strings(prefix, d.reason, entry=False)
        cites = self.cites(d.cites)
        if not d.cites or len(lines[-1] + cites) <= self.opts.width:
            lines[-1] += cites
        else:
            pad = " " * len(prefix)
            lines += self._list_lines(pad + "cites ", [c.source for c in d.cites], self.opts.width)
        self.out.extend(lines)

    def item_stages(self, st: n.Stages) -> None:
        self.out.extend(self._list_lines("stages ", list(st.names), self.opts.width))

    def item_facts(self, f: n.Facts) -> None:
        # Laid out as a disable's cites are: the list wraps under its first fact, `cites` follows it.
        facts = [format_expr(x.field) + (f" in {format_expr(x.values)}" if x.values is not None else "")
                 for x in f.facts]
        lines = self._list_lines("facts ", facts, self.opts.width)
        cites = self.cites(f.cites)
        if len(lines[-1] + cites) <= self.opts.width:
            lines[-1] += cites
        else:
            lines += self._list_lines("      cites ", [c.source for c in f.cites], self.opts.width)
        self.out.extend(lines)

    def _scope(self, scope: str, where) -> list[str]:
        if scope == "claim":
            return ["applies to claim"]
        if where is None:
            return ["applies to line"]
        return self.wrap("applies to line where ", where)

    def item_rule(self, r: n.Rule) -> None:
        given = set(r.given) if r.override else None
        entries = []

        def has(key: str) -> bool:
            return given is None or key in given

        if r.title and has("title"):
            entries.append(("title", [f"title {format_string(r.title)}"]))
        if r.cites and has("cites"):
            entries.append(("cites", [self.cites(r.cites).strip()]))
        if r.stage is not None and has("stage"):
            entries.append(("stage", [f"stage {r.stage}"]))
        if has("applies") and (given is not None or True):
            if given is None or "applies" in given:
                entries.append(("applies", self._scope(r.scope, r.where)))
        if r.when is not None and has("when"):
            entries.append(("when", self.wrap("when ", r.when)))
        if r.outcome is not None and has("outcome"):
            if r.outcome.kind == "reduce":
                assert r.outcome.units is not None  # the grammar gives every reduce its units
                entries.append(("outcome", self.wrap("reduce units to ", r.outcome.units)))
            else:
                entries.append(("outcome", [r.outcome.kind]))
        if r.reasons and has("reason"):
            entries.append(("reason", ["reason " + ", ".join(f"{c.system} {c.code}" for c in r.reasons)]))
        if r.message is not None and has("message"):
            entries.append(("message", self.strings("message ", r.message.raw)))
        if r.note and has("note"):
            entries.append(("note", self.strings("note ", r.note)))
        self.block(f"{self._override(r)}rule {r.id}", r, entries)

    def item_fee(self, f: n.Fee) -> None:
        given = set(f.given) if f.override else None
        has = (lambda key: given is None or key in given)
        entries = []
        if f.title and has("title"):
            entries.append(("title", [f"title {format_string(f.title)}"]))
        if f.cites and has("cites"):
            entries.append(("cites", [self.cites(f.cites).strip()]))
        if has("applies") and (given is None or "applies" in given):
            entries.append(("applies", self._scope("line", f.where)))
        if f.amount is not None and has("amount"):
            entries.append(("amount", self.wrap("amount ", f.amount)))
        if f.note and has("note"):
            entries.append(("note", self.strings("note ", f.note)))
        self.block(f"{self._override(f)}fee {f.id}", f, entries)


def format_policy(text: str, options: FormatterOptions = DEFAULT_OPTIONS, source_name: str = "<string>") -> str:
    """Policy text in the canonical layout, every comment kept beside what it annotated.

    Raises:
        PolicySyntaxError: the text does not parse (a file that does not parse is not reformatted).
    """
    return Formatter(text, options, source_name).format()


# ---------------------------------------------------------------- files on disk

import difflib  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402


@dataclasses.dataclass(frozen=True)
class FileFormat:
    """One file's text before and after formatting."""

    path: Path
    old: str
    new: str

    @property
    def changed(self) -> bool:
        return self.old != self.new

    def unified_diff(self) -> str:
        """The change as a unified diff of the lines' text.

        A change of line ends or a dropped byte-order mark would show as pairs of `-`/`+` lines
        that look the same, so it is said in a line of its own above the diff instead (patch
        skips text before `---`); a file that changes in nothing else has no diff below it.
        """
        name, old, notes = str(self.path), self.old, []
        if old.startswith("\ufeff"):
            old = old[1:]
            notes.append("the byte-order mark is dropped")
        crlf = old.count("\r\n")  # strings hold no raw line break, so every CR LF is a line end
        cr = old.count("\r") - crlf
        if crlf or cr:
            old = one_line_end(old)
            notes += [f"{count} {kind} line end(s) become LF" for count, kind in ((crlf, "CRLF"), (cr, "CR")) if count]
        header = f"{name}: {'; '.join(notes)}\n" if notes else ""
        return header + "".join(difflib.unified_diff(_lines(old), _lines(self.new), name, name + " (formatted)"))


def _lines(text: str) -> list[str]:
    """Lines ending in "\\n" only (str.splitlines also breaks at a form feed inside a string)."""
    return re.findall(r"[^\n]*\n|[^\n]+$", text)


def format_file(path: str | Path, options: FormatterOptions = DEFAULT_OPTIONS) -> FileFormat:
    """Read a policy file and lay it out canonically, writing nothing.

    Raises:
        PolicySyntaxError: the file does not parse (the diagnostic shows its line).
        PolicySemanticError: the file cannot be read (missing, too large, not UTF-8).
    """
    path = Path(path)
    text = read_policy_text(path)
    parse_source(text, path)  # raises the located, hinted syntax error before the formatter parses again
    new = format_policy(text, options, str(path))
    with open(path, "rb") as fh:  # the reader drops a byte-order mark; the canonical file has none
        if fh.read(3) == codecs.BOM_UTF8:
            text = "\ufeff" + text
    return FileFormat(path, text, new)


def write_atomically(path: Path, text: str) -> None:
    """Replace a file's text so that a reader sees the old file or the new one, never half of it."""
    path = path.resolve()  # through a symbolic link: the link stays, its target gets the new text
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
        os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
