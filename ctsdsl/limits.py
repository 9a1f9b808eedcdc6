"""Resource limits on what ctsdsl reads: policies, their data files, and claims.

Policy files and claims may come from people ctsdsl should not trust with the
machine's memory or time. Every bound lives here, so a deployer can read them in
one place (docs/security.md lists them) and every reader enforces the same ones.
Each limit is far above anything a real policy or claim needs; exceeding one
gives a located diagnostic, never a crash or a hang.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from .errors import Diagnostic, PolicySyntaxError
from .language import nodes as n

if TYPE_CHECKING:
    from lark import Token, Tree
    from yaml import Node

# ---------------------------------------------------------------- policy files

#: Bytes in one policy file.
MAX_POLICY_BYTES = 1024 * 1024
#: Characters in one string literal of a policy (titles, messages, notes, codes).
MAX_STRING_CHARS = 10_000
#: Digits in one number literal: Python refuses to convert integers past 4300 digits.
MAX_NUMBER_DIGITS = 100
#: Numbers in a policy, its data files and its test cases are below this (a thousand million
#: million). Exact cents of such amounts, summed over a claim's 1 000 lines of 999 units, stay
#: within decimal arithmetic's 28 digits; `$` and 40 nines, or 1e999999999, would not.
MAX_NUMBER_MAGNITUDE = 10**15
#: Levels of the parse tree: a file's blocks take four or five, the rest is expression nesting.
#: The generated Python nests a parenthesis per level, and CPython's parser stops at 200.
MAX_SYNTAX_DEPTH = 48
#: Rules, fees, lets, parameters, tables and sources in one file, together.
MAX_DEFINITIONS = 2_000
#: An expression with every `let` it names written out in place, as the compiler does:
#: depth (nesting) and size (nodes). `let b = a + a`, `let c = b + b`, ... doubles each time.
MAX_EXPANDED_DEPTH = 60
MAX_EXPANDED_NODES = 20_000
#: The same, summed over every rule and fee of a policy: the size of the generated code
#: (the bundled policies have about 1 200 parts, 31 000 characters of Python).
MAX_EXPANDED_TOTAL = 100_000
#: Quantifiers (`any`, `all`, `none`, `count`, `sum`) inside one another, lets written out. A line
#: rule runs once per line and each quantifier walks every line: two levels cost lines cubed.
MAX_QUANTIFIER_NESTING = 2

#: Values one rule records reading on one line when traced (explain, test coverage): a
#: quantifier over a long claim on each of its lines would otherwise record millions.
MAX_TRACE_READS = 1_000

# ---------------------------------------------------------------- batch

#: Worker processes of one `ctsdsl batch --jobs N`: each holds its own compiled policies, and a
#: huge N forked until the machine ran out of processes.
MAX_JOBS = 64

# ---------------------------------------------------------------- data files (tables)

#: Bytes in one data file (CSV or YAML).
MAX_TABLE_BYTES = 5 * 1024 * 1024
#: Rows in one data file.
MAX_TABLE_ROWS = 100_000

# ---------------------------------------------------------------- claims and YAML

#: Bytes in one .json or .yaml claim file (read whole); .jsonl is streamed, a line at a time.
MAX_CLAIM_FILE_BYTES = 64 * 1024 * 1024
#: Characters in one .yaml claim (or case) file: PyYAML is pure Python, about 300 KB a second.
MAX_YAML_CLAIM_CHARS = 2 * 1024 * 1024
#: Bytes in one .jsonl record.
MAX_JSONL_LINE_BYTES = 16 * 1024 * 1024
#: Levels of nesting in one YAML document: PyYAML's scanner slows quadratically with depth.
MAX_YAML_DEPTH = 64
#: Values in one YAML document, counting an alias once per use: stops "billion laughs".
MAX_YAML_NODES = 1_000_000


def check_parse_tree(tree: Tree, text: str, source_name: str, first_line: int = 1, first_column: int = 1) -> None:
    """Refuse a parse tree that is too deep, or has an over-long string or number, before it is transformed.

    The transformer, checker and compiler recurse over the tree; walking it here
    iteratively first keeps a hostile file from exhausting Python's stack.

    Args:
        tree: What Lark parsed.
        text: The policy file's text, for the excerpt.
        source_name: The file, for the diagnostic.
        first_line, first_column: Where the parsed text starts in the file (a message hole's start).

    Raises:
        PolicySyntaxError: naming the line and column where a limit is passed.
    """
    # Imported here, not at the top: every reader of claims imports this module for its limits, and only
    # a policy being parsed, with Lark already loaded, needs lark's classes (about 20 ms of a cold start).
    from lark import Token

    definitions = 0
    stack: list[tuple[Tree | Token, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, Token):
            problem = _token_problem(node)
            if problem:
                _raise(problem[0], problem[1], node.line, node.column, text, source_name, first_line,
                       first_column)
            continue
        if depth > MAX_SYNTAX_DEPTH:
            line, column = _tree_position(node)
            _raise("too-deep", f"expression nested more than {MAX_SYNTAX_DEPTH} levels deep", line, column, text,
                   source_name, first_line, first_column,
                   "split it into named parts with `let`")
        if depth <= 3 and node.data in ("rule", "fee", "let", "param_plain", "param_dated", "table", "source"):
            definitions += 1
            if definitions > MAX_DEFINITIONS:
                line, column = _tree_position(node)
                _raise("too-many", f"more than {MAX_DEFINITIONS} definitions in one file", line, column, text,
                       source_name, first_line, first_column, "split the policy into a parent and overlays")
        stack.extend((child, depth + 1) for child in node.children)


def _token_problem(token: Token) -> tuple[str, str] | None:
    if token.type == "STRING" and len(token) - 2 > MAX_STRING_CHARS:
        return "too-long", f"string of {len(token) - 2} characters; the limit is {MAX_STRING_CHARS}"
    if token.type in ("INT", "DECIMAL", "MONEY"):
        if sum(ch.isdigit() for ch in token) > MAX_NUMBER_DIGITS:
            return "too-long", f"number of more than {MAX_NUMBER_DIGITS} digits"
        whole = token.lstrip("$").partition(".")[0].lstrip("0")
        if len(whole) > len(str(MAX_NUMBER_MAGNITUDE)) - 1:
            return "too-large", f"number of {len(whole)} digits before the point; {MAGNITUDE_WORDS}"
    return None


#: How a message states MAX_NUMBER_MAGNITUDE.
MAGNITUDE_WORDS = f"numbers must be below {MAX_NUMBER_MAGNITUDE:,} (10^{len(str(MAX_NUMBER_MAGNITUDE)) - 1}) in size"


def number_problem(value: int | Decimal) -> str | None:
    """Why a number read from a data file or a test case is refused, or None.

    Checked before the number is written out (`format(x, "f")` of 1e999999999 is a gigabyte)
    or used in arithmetic (which would overflow decimal's context, or fail to round to cents).
    """
    if isinstance(value, Decimal):
        if not value.is_finite():
            return f"{value} is not a number"
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and (exponent < -MAX_NUMBER_DIGITS or len(value.as_tuple().digits) >
                                          MAX_NUMBER_DIGITS):
            return f"a number of more than {MAX_NUMBER_DIGITS} digits"
    # copy_abs, not abs(): abs() rounds to the context, and overflows on 1e999999999
    if (value.copy_abs() if isinstance(value, Decimal) else abs(value)) >= MAX_NUMBER_MAGNITUDE:
        return f"{_short(value)} is too large: {MAGNITUDE_WORDS}"
    return None


def _short(value: int | Decimal) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:20] + "..." + text[-10:]


def _tree_position(node: Tree) -> tuple[int, int]:
    from lark import Token  # see check_parse_tree

    meta = node.meta
    if not getattr(meta, "empty", True):
        return meta.line, meta.column
    for token in node.scan_values(lambda v: isinstance(v, Token)):
        return token.line, token.column
    return 0, 0


def _raise(code: str, message: str, line: int | None, column: int | None, text: str, source_name: str,
           first_line: int, first_column: int, hint: str = "") -> None:
    line, column = line or 0, column or 0
    if line:  # inside a message hole, positions count from the hole: shift them into the file
        column = column + first_column - 1 if line == 1 else column
        line = line + first_line - 1
    span = n.Span(line, column, line, column + 1) if line else n.NO_SPAN
    raise PolicySyntaxError(Diagnostic(code, message, source_name, span, hint, source_text=text))


def expansion_problems(policy: n.Policy, source_name: str) -> list[Diagnostic]:
    """Diagnostics for lets, rules and fees whose expressions, with lets written out, pass the limits
    on depth, size and quantifier nesting.

    Each let is measured once, after the lets it names, so this costs time linear
    in the policy even when the expansion itself would be exponential, and its
    recursion is bounded by one expression's depth, not by the length of a chain of lets.
    """
    lets = {let.name: let for let in policy.of_kind(n.Let)}
    measured: dict[str, tuple[int, int, int]] = {}

    def measure(e: n.Node) -> tuple[int, int, int]:
        """(depth, size, quantifier nesting) of `e` with the lets it names written out."""
        depth, size, nesting = 1, 1, 0
        parts = [measure(child) for child in e.children()]
        if isinstance(e, n.Name) and e.name in measured:
            parts.append(measured[e.name])
        for d, s, q in parts:
            depth, size, nesting = max(depth, d + 1), size + s, max(nesting, q)
        return depth, min(size, MAX_EXPANDED_NODES + 1), nesting + isinstance(e, n.Quantifier)

    # Lets in dependency order, without recursion; a cycle (which the checker reports) counts as a leaf.
    state: dict[str, int] = {}  # 1: on the stack, 2: measured
    for root in lets:
        stack = [(root, False)]
        while stack:
            name, ready = stack.pop()
            if ready:
                measured[name] = measure(lets[name].expr)
                state[name] = 2
                continue
            if state.get(name):
                continue
            state[name] = 1
            stack.append((name, True))
            stack.extend((m.name, False) for m in lets[name].expr.find_all(n.Name)
                         if m.name in lets and not state.get(m.name))

    problems = []
    total = 0
    for item in policy.items:
        if not isinstance(item, (n.Let, n.Rule, n.Fee)):
            continue
        depth, size, nesting = measured[item.name] if isinstance(item, n.Let) else measure(item)
        if not isinstance(item, n.Let):
            total += size
            if total > MAX_EXPANDED_TOTAL and total - size <= MAX_EXPANDED_TOTAL:  # report the first only
                problems.append(Diagnostic(
                    "too-complex", f"the rules and fees up to `{item.id}` have more than {MAX_EXPANDED_TOTAL} parts "
                    "once the lets they use are written out", item.origin or source_name, item.span,
                    "a let is copied into every rule that uses it; split the policy, or simplify the largest lets"))
        kind = type(item).__name__.lower()
        name = item.name if isinstance(item, n.Let) else item.id
        where = item.origin or source_name
        if depth > MAX_EXPANDED_DEPTH or size > MAX_EXPANDED_NODES:
            what = f"nests {depth} levels deep" if depth > MAX_EXPANDED_DEPTH else f"has more than {size - 1} parts"
            problems.append(Diagnostic(
                "too-complex", f"{kind} `{name}` {what} once the lets it uses are written out "
                f"(limits: {MAX_EXPANDED_DEPTH} levels, {MAX_EXPANDED_NODES} parts)", where, item.span,
                "a let used in another let is copied into it; compute fewer layers of lets"))
        elif nesting > MAX_QUANTIFIER_NESTING:
            problems.append(Diagnostic(
                "too-complex", f"{kind} `{name}` nests {nesting} quantifiers inside one another (with its lets "
                f"written out); the limit is {MAX_QUANTIFIER_NESTING}", where, item.span,
                "each level walks every line of the claim again: 1000 lines, three levels, a billion steps"))
    return problems


def yaml_problem(root: Node) -> tuple[str, Node] | None:
    """Why a composed YAML node graph may not be constructed (too many values, or a loop), and where.

    Aliases let a few lines stand for billions of values ("billion laughs"), which
    the readers downstream would walk one by one; a node that contains itself
    never ends. Each node is measured once, so this runs in time linear in the text.

    Returns:
        None, or (the problem, the node whose mark locates it).
    """
    sizes: dict[int, int] = {}
    ancestors: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        value = getattr(node, "value", None)
        children = [] if not isinstance(value, list) else \
            [part for item in value for part in (item if isinstance(item, tuple) else (item,))]
        if finished:
            ancestors.discard(key)
            sizes[key] = min(1 + sum(sizes[id(c)] for c in children), MAX_YAML_NODES + 1)
            if sizes[key] > MAX_YAML_NODES:
                return f"the document holds more than {MAX_YAML_NODES} values once its aliases are expanded", node
            continue
        if key in sizes:
            continue
        if key in ancestors:
            return "an alias refers to a value that contains it", node
        ancestors.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in children)
    return None
