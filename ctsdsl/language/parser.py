"""Parse policy text into a syntax tree, turning Lark's failures into located diagnostics."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import lark
from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from ..errors import CtsdslError, Diagnostic, PolicySyntaxError, closest
from ..limits import check_parse_tree
from . import nodes as n
from .transformer import span_of, to_expr, to_nodes, unquote

# Words for the grammar's terminals, so an analyst reads "expected a name", not "NAME".
_TERMINAL_WORDS = {
    "NAME": "a name", "STRING": 'a quoted string ("...")', "INT": "a whole number",
    "DECIMAL": "a decimal number", "MONEY": "an amount such as $32.74", "DATE": "a date (YYYY-MM-DD)",
    "LBRACE": "'{'", "RBRACE": "'}'", "LPAR": "'('", "RPAR": "')'", "LSQB": "'['", "RSQB": "']'",
    "COMMA": "','", "DOT": "'.'", "COLON": "':'", "EQUAL": "'='", "PLUS": "'+'", "MINUS": "'-'",
    "STAR": "'*'", "SLASH": "'/'", "LESSTHAN": "'<'", "MORETHAN": "'>'", "$END": "the end of the file",
}

# The keywords that open an entry inside each kind of block, for "did you mean" hints.
BLOCK_KEYWORDS = {
    "policy": ("title", "payer", "version", "effective", "extends", "governs", "changes", "note"),
    "source": ("title", "url", "date", "confidence", "note"),
    "rule": ("title", "cites", "applies", "when", "deny", "reduce", "warn", "info", "reason", "message", "note",
             "stage"),
    "fee": ("title", "cites", "applies", "amount", "note"),
    "field": ("title", "type", "example", "cites", "note"),
    "top": ("policy", "source", "param", "table", "let", "rule", "fee", "override", "disable", "facts", "stages", "field"),
}

_HOLE = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


_GRAMMAR = Path(__file__).with_name("grammar.lark")
# Lark's parse tables for grammar.lark, built ahead (after editing the grammar, run
# `python -c "import ctsdsl.language.parser as p; p.write_tables()"`; a test says when): building them
# takes 150 ms or more, a third of a CLI run's start-up; reading them back takes about 20.
_TABLES = Path(__file__).with_name("grammar-tables.json")
_OPTIONS: dict[str, Any] = {"parser": "lalr", "start": ["start", "expr"], "propagate_positions": True,
                            "maybe_placeholders": False}


def _grammar_digest() -> str:
    return hashlib.sha256(_GRAMMAR.read_bytes()).hexdigest()


def _build() -> Lark:
    return Lark.open(str(_GRAMMAR), **_OPTIONS)


def _int_keys(d: dict) -> dict:
    # JSON keys are strings; the tables key their states by number.
    return {int(k) if k.isdigit() else k: v for k, v in d.items()}


@functools.lru_cache(maxsize=1)
def _lark() -> Lark:
    """The parser: from the prebuilt tables when they are for this grammar and this Lark, else built."""
    try:
        saved = json.loads(_TABLES.read_text(encoding="utf-8"), object_hook=_int_keys)
        if saved["grammar_sha256"] == _grammar_digest() and saved["lark"] == lark.__version__:
            return Lark._load_from_dict(saved["data"], saved["memo"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass  # missing, stale or unreadable tables only cost the time to build them
    return _build()


def _keys(value) -> Iterator:
    if isinstance(value, dict):
        yield from value
        for item in value.values():
            yield from _keys(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _keys(item)


def write_tables(path: Path = _TABLES) -> None:
    """Build the parse tables from grammar.lark and save them where `_lark` reads them."""
    from lark.grammar import Rule
    from lark.lexer import TerminalDef
    data, memo = _build().memo_serialize([TerminalDef, Rule])
    text = json.dumps({"grammar_sha256": _grammar_digest(), "lark": lark.__version__, "data": data, "memo": memo},
                      sort_keys=True)
    if json.loads(text, object_hook=_int_keys)["data"] != json.loads(json.dumps(data), object_hook=_int_keys) or \
            any(isinstance(k, str) and k.isdigit() for k in _keys(data)):
        raise RuntimeError("the parse tables do not survive JSON: a string key looks like a number")
    path.write_text(text + "\n", encoding="utf-8")


def parse(text: str, source_name: str = "<string>") -> n.Policy:
    """Parse policy text into a `nodes.Policy`.

    Structural problems that the grammar accepts (an entry given twice) do not
    raise here: they travel on to the checker, which reports them with the rest.

    Args:
        text: The policy source.
        source_name: The file name used in diagnostics.

    Returns:
        The syntax tree.

    Raises:
        PolicySyntaxError: the text does not follow the grammar.

    >>> parse('rule r { deny }').of_kind(n.Rule)[0].outcome.kind
    'deny'
    """
    policy, _ = parse_with_problems(text, source_name)
    return policy


_CR = re.compile(r"\r\n?")


def one_line_end(text: str) -> str:
    """The text with every line ending in LF: a CR alone ends a line too, as `str.splitlines` and
    editors count it, but Lark counts lines by LF only (a CR-only file was all line 1, and its first
    comment ran to the end of the file)."""
    return _CR.sub("\n", text) if "\r" in text else text


# The last texts parsed in this process, by (text, source name): nodes and diagnostics are frozen, so a
# parse can be handed out again. Choosing a policy reads each candidate's header by parsing its file,
# and loading the chosen one parsed the same file (and its parent) again: half the parsing of a `ctsdsl
# eval` with an empty policy cache, or after a policy file was edited.
_PARSED: dict[tuple[str, str], tuple[n.Policy, tuple[Diagnostic, ...]]] = {}
_MAX_PARSED = 16


def parse_with_problems(text: str, source_name: str = "<string>") -> tuple[n.Policy, list[Diagnostic]]:
    """Parse, returning also the structural problems the checker must report."""
    kept = _PARSED.get((text, source_name))
    if kept is not None:
        return kept[0], list(kept[1])
    policy, problems = _parse_with_problems(text, source_name)
    if len(_PARSED) >= _MAX_PARSED:
        try:
            del _PARSED[next(iter(_PARSED))]  # the oldest
        except (KeyError, RuntimeError, StopIteration):  # another thread (the playground's) got there first
            _PARSED.clear()
    _PARSED[(text, source_name)] = (policy, tuple(problems))
    return policy, problems


def _parse_with_problems(text: str, source_name: str) -> tuple[n.Policy, list[Diagnostic]]:
    text = one_line_end(text)
    try:
        tree = _lark().parse(text, start="start")
    except UnexpectedInput as exc:
        d = _syntax_diagnostic(exc, text, source_name)
        raise PolicySyntaxError(_lookalike_hint(_disable_without_cites(d, text), text)) from None
    check_parse_tree(tree, text, source_name)  # before the recursive passes: depth and size limits

    def parse_template(token: Token) -> n.Template:
        return _parse_template(token, text, source_name)

    try:
        return to_nodes(tree, source_name, parse_template)
    except VisitError as exc:  # a message hole failed to parse: unwrap Lark's wrapper
        if isinstance(exc.orig_exc, CtsdslError):
            raise exc.orig_exc from None
        raise


def parse_expr(text: str, source_name: str = "<expr>") -> n.Expr:
    """Parse a single expression, e.g. ``line.units > 1``."""
    text = one_line_end(text)
    try:
        tree = _lark().parse(text, start="expr")
    except UnexpectedInput as exc:
        raise PolicySyntaxError(_syntax_diagnostic(exc, text, source_name)) from None
    check_parse_tree(tree, text, source_name)
    return to_expr(tree, source_name)


def _parse_template(token: Token, text: str, source_name: str) -> n.Template:
    """Split a message string into text and `{expression}` holes; `{{` and `}}` are braces."""
    raw = unquote(token)
    assert token.line is not None and token.column is not None  # the lexer positions every token
    line, start_column = token.line, token.column

    def text_part(start: int, end: int) -> str:
        # Between holes a brace is a typo: a hole left open, or a literal brace not doubled.
        lone = next((i for i in range(start, end) if raw[i] in "{}"), None)
        if lone is not None:
            column = start_column + 1 + lone
            what = "an unclosed `{`" if raw[lone] == "{" else "a `}` that closes no hole"
            raise PolicySyntaxError(Diagnostic(
                "syntax", f"{what} in a message", source_name, n.Span(line, column, line, column + 1),
                "close the hole, e.g. {line.minutes}, or write {{ or }} for a literal brace", source_text=text))
        return raw[start:end]

    parts: list = []
    pos = 0
    for m in _HOLE.finditer(raw):
        parts.append(text_part(pos, m.start()))
        pos = m.end()
        if m.group(0) in ("{{", "}}"):
            parts.append(m.group(0)[0])
            continue
        hole = m.group(1)
        # Offsets inside the token: exact when the string has no escapes before the hole,
        # which is the case for every message in practice.
        column = start_column + 1 + m.start(1)
        try:
            tree = _lark().parse(hole, start="expr")
        except UnexpectedInput as exc:
            inner = _syntax_diagnostic(exc, hole, source_name)
            raise PolicySyntaxError(Diagnostic(
                "syntax", f"in a message hole {{{hole}}}: {inner.message}", source_name,
                n.Span(line, column, line, column + len(hole)),
                "a hole holds one expression, e.g. {line.minutes}; write {{ or }} for a literal brace",
                source_text=text)) from None
        check_parse_tree(tree, text, source_name, line, column)
        expr = _shift(to_expr(tree, source_name), line - 1, column - 1)
        parts.append(expr)
    parts.append(text_part(pos, len(raw)))
    merged: list = []
    for part in parts:
        if isinstance(part, str):
            if not part:
                continue
            if merged and isinstance(merged[-1], str):
                merged[-1] += part
                continue
        merged.append(part)
    return n.Template(tuple(merged), raw=raw, span=span_of(token))


def _shift(expr: n.Expr, lines: int, columns: int) -> n.Expr:
    """Move the spans of an expression parsed out of a message to its place in the file."""
    import dataclasses

    def move(node: n.Expr, children: dict[str, Any]) -> n.Expr:
        s = node.span
        span = n.Span(s.line + lines, s.column + columns, s.end_line + lines, s.end_column + columns)
        return dataclasses.replace(node, **children, span=span)

    return n.rebuild(expr, move)


def _words(expected: set[str]) -> str:
    names = sorted({_TERMINAL_WORDS.get(t, _keyword_word(t)) for t in expected})
    if len(names) > 12:  # a closing brace is kept: after an unclosed block it is the word the reader needs
        names = names[:12] if "'}'" not in names[12:] else names[:11] + ["'}'"]
        names.append("...")
    return ", ".join(names)


def _keyword_word(terminal: str) -> str:
    pattern = _lark().get_terminal(terminal).pattern if terminal in _lark_terminal_names() else None
    if pattern is not None and pattern.type == "str":
        return f"'{pattern.value}'"
    return terminal.lower()


@functools.lru_cache(maxsize=1)
def _lark_terminal_names() -> frozenset[str]:
    return frozenset(t.name for t in _lark().terminals)


def _enclosing_block(text: str, pos: int) -> str:
    """The kind of block (rule, fee, source, policy) open at `pos`, or 'top'."""
    depth = 0
    for m in reversed(list(re.finditer(r'"(?:\\.|[^"\\\n])*"|#[^\n]*|[{}]', text[:pos]))):
        token = m.group(0)
        if token == "}":
            depth += 1
        elif token == "{":
            if depth == 0:
                head = re.search(r"(\w+)\s+(?:\"[^\"]*\"|\w+)\s*$", text[:m.start()])
                return head.group(1) if head and head.group(1) in BLOCK_KEYWORDS else "top"
            depth -= 1
    return "top"


_STRING_OR_COMMENT = re.compile(r'"(?:\\.|[^"\\\n])*"|#[^\n]*')


def _lookalike_hint(d: Diagnostic, text: str) -> Diagnostic:
    """Name the invisible or look-alike character that broke a syntax error's line, if there is one.

    A Cyrillic `е` in `rule` or a zero-width space in `cites` gives "unexpected name `rul`",
    which no one can see the reason for; names and keywords are ASCII, so any other
    character outside a string or comment is the likely culprit.
    """
    lines = text.splitlines()
    if d.code != "syntax" or not 0 < d.span.line <= len(lines):
        return d
    code = _STRING_OR_COMMENT.sub(lambda m: " " * len(m.group(0)), lines[d.span.line - 1])
    found = next(((i, ch) for i, ch in enumerate(code) if ord(ch) > 127 or not (ch.isprintable() or ch == "\t")),
                 None)
    if found is None:
        return d
    column, ch = found[0] + 1, found[1]
    name = unicodedata.name(ch, "")
    what = f"U+{ord(ch):04X} {name}" if name else f"U+{ord(ch):04X}, a control character" \
        if unicodedata.category(ch) == "Cc" else f"U+{ord(ch):04X}, an unnamed character"
    if unicodedata.category(ch) == "Nd":  # ١٠٠ or ５: a digit, but not one a number may be written in
        hint = f"column {column} holds {what}: numbers are written in the ASCII digits 0-9"
    else:
        hint = f"column {column} holds {what}, which may look like a letter or nothing at all: names and " \
               "keywords are plain ASCII"
    return dataclasses.replace(d, hint=f"{hint}; {d.hint}" if d.hint else hint)


_DISABLE_BEFORE = re.compile(r'\bdisable\s+(\w+)\s+because\s+(?:"(?:\\.|[^"\\\n])*"\s*)+$')


def _disable_without_cites(d: Diagnostic, text: str) -> Diagnostic:
    """Say that a `disable` lacks its `cites` when that is why the parse failed.

    The parser, left waiting for `cites` or another reason string, reports the next item (or the end
    of the file, with a hint about unclosed blocks) as unexpected, far from the missing entry.
    """
    lines = text.splitlines(keepends=True)
    if d.code != "syntax" or not 0 < d.span.line <= len(lines):
        return d
    offset = sum(len(line) for line in lines[:d.span.line - 1]) + d.span.column - 1
    before = _STRING_OR_COMMENT.sub(lambda m: m.group(0) if m.group(0).startswith('"') else " " * len(m.group(0)),
                                    text[:offset])
    found = _DISABLE_BEFORE.search(before)
    if found is None:
        return d
    line = before.count("\n", 0, found.start()) + 1
    column = found.start() - (before.rfind("\n", 0, found.start()) + 1) + 1
    rule = found.group(1)
    return dataclasses.replace(d, message=f"`disable {rule}` needs `cites SOURCE`, naming the source that says "
                               "the rule does not apply", span=n.Span(line, column, line, column + len("disable")),
                               hint=f'add it after the reason: disable {rule} because "..." cites <source>')


def _syntax_diagnostic(exc: UnexpectedInput, text: str, source_name: str) -> Diagnostic:
    if isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        # Lark gives no position for the end of input: point at the last character.
        lines = text.rstrip().splitlines() or [""]
        span = n.Span(len(lines), len(lines[-1]) + 1, len(lines), len(lines[-1]) + 2)
        expected = getattr(exc, "expected", None) or getattr(exc, "accepts", None) or set()
        hint = "a block opened with '{' is not closed with '}'" if "RBRACE" in expected else \
            "the file ends in the middle of an entry"
        return Diagnostic("syntax", f"unexpected end of file; expected {_words(set(expected))}",
                          source_name, span, hint, source_text=text)

    line, column = exc.line, exc.column
    if isinstance(exc, UnexpectedCharacters):
        # Lark declares pos_in_stream None at class level; UnexpectedCharacters always sets the lexer's offset.
        pos = cast(int, exc.pos_in_stream)
        char = text[pos] if pos < len(text) else ""
        span = n.Span(line, column, line, column + 1)
        if char == '"':
            return Diagnostic("syntax", "unterminated string", source_name, span,
                              'close the string with " on the same line; long messages may be split into '
                              'several strings, which are joined', source_text=text)
        allowed = set(exc.allowed or ())
        return Diagnostic("syntax", f"unexpected character {char!r}; expected {_words(allowed)}",
                          source_name, span, _char_hint(char), source_text=text)

    assert isinstance(exc, UnexpectedToken)
    token = exc.token
    span = span_of(token)
    expected = set(exc.accepts or exc.expected or ())
    message = f"unexpected {_describe(token)}; expected {_words(expected)}"
    hint = ""
    if token.type == "NAME":
        block = _enclosing_block(text, token.start_pos)
        keywords = BLOCK_KEYWORDS.get(block, ())
        close = closest(token, keywords)
        if close and close != str(token):
            hint = f"did you mean `{close}`?"
        elif keywords and not {"NAME", "LPAR"} & expected:
            where = "at the top level" if block == "top" else f"in a {block} block"
            hint = f"entries allowed {where}: {', '.join(keywords)}"
    elif str(token) == "where" and re.search(r"applies\s+to\s+claim\s*$", text[:token.start_pos]):
        hint = "a claim rule applies to the whole claim, so it has no `where`: put the condition in `when`"
    elif token.type in ("EQUAL",) and "__ANON" not in message:
        hint = "comparisons use `==`; `=` only gives a parameter its value"
    return Diagnostic("syntax", message, source_name, span, hint, source_text=text)


def _describe(token: Token) -> str:
    if token.type == "NAME":
        return f"name `{token}`"
    if token.type == "STRING":
        return f"string {token}"
    return f"`{token}`"


def _char_hint(char: str) -> str:
    if char == "'":
        return 'strings use double quotes: "..."'
    if char == "&":
        return "write `and`"
    if char == "|":
        return "write `or`"
    if char == "!":
        return "write `not`, or `!=` for not equal"
    return ""
