"""Policy files are data: nothing written in a policy or its data files runs as Python.

The compiler turns a checked policy into Python source, so every way text gets from a
policy into that source is tried here with payloads that would run code if pasted
in unquoted: rule ids, strings, messages, titles, reason codes, parameter values, set
members, data-file cells and claim values. Each test proves two things: a sentinel
file the payload would create never appears, and the text comes back verbatim
where the policy says it goes (a finding's message, title or citation).
"""

from __future__ import annotations

import ast
import csv
import json
import re
from pathlib import Path

import pytest
import yaml

import ctsdsl
from ctsdsl.cli import main
from ctsdsl.errors import PolicySyntaxError
from ctsdsl.language.functions import FUNCTIONS
from ctsdsl.engine.loader import load_file

SENTINEL_NAME = "PWNED"


def payloads(sentinel: Path) -> list[str]:
    """Text that runs `touch sentinel` (or worse) if it ever lands unquoted in generated Python."""
    s = str(sentinel)
    return [
        f'"); import os; os.system("touch {s}")#',
        f"'); __import__('os').system('touch {s}')#",
        f"__import__('pathlib').Path('{s}').touch()",
        f'"""; open("{s}", "w"); """',
        f"'''; open('{s}', 'w'); '''",
        f'\\"); open("{s}", "w")#',
        f"\\\\\\'; open('{s}','w')#",
        f"line one\nopen('{s}', 'w')\n#",
        f"{{open('{s}', 'w')}} {{{{ }}}} {{__import__}}",
        f"\\x27\\u0027\\N{{APOSTROPHE}}; open('{s}','w')",
        f"\u202eRTL\u200bzero\u2028sep\x0b{s}",
        f"%s %r {{0}} $(touch {s}) `touch {s}`",
    ]


def policy_string(text: str) -> str:
    """`text` as a policy string literal: the language's escapes are \\\\, \\", \\n and \\t."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


def message_string(text: str) -> str:
    """`text` as a message: braces doubled, so none of it is a hole."""
    return policy_string(text.replace("{", "{{").replace("}", "}}"))


def write_policy(folder: Path, payload: str) -> Path:
    """A policy that carries `payload` in every string the language has, and data files holding it."""
    (folder / "data").mkdir()
    with open(folder / "data" / "notes.csv", "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([["code", "note"], ["97550", payload]])
    (folder / "data" / "extra.yaml").write_text(
        yaml.safe_dump([{"code": "97550", "note": payload, payload: payload}], allow_unicode=True), encoding="utf-8")
    p, m = policy_string(payload), message_string(payload)
    text = f'''
policy "inj-test" {{
  title {p}
  payer "test"
  version {p}
  effective 2024-01-01
  governs "97550"
  changes {p}
  note {p}
}}

source src {{
  title {p}
  url {p}
  note {p}
}}

param text: string = {p} cites src
param texts: set = {{{p}, "plain"}} cites src
table notes from "data/notes.csv" key code cites src
table extra from "data/extra.yaml" key code cites src
let same = {p}

rule by_message {{
  title {p}
  cites src
  when line.code != {p}
  info
  reason CARC 16, RARC N362
  message {m}
  note {p}
}}

rule by_param {{
  title "param"
  cites src
  when text == {p} and text in texts and same == text
  info
  message "{{text}}"
}}

rule by_table {{
  title "table"
  cites src
  when notes[line.code].note == {p}
  info
  message "{{notes[line.code].note}}|{{extra[line.code].note}}"
}}

rule by_claim {{
  title "claim"
  cites src
  applies to claim
  info
  message "{{claim.payer}}"
}}
'''
    path = folder / "inj.cts"
    path.write_text(text, encoding="utf-8")
    return path


def claim_with(payer: str) -> dict:
    return {"id": "c-1", "payer": payer[:100], "date_of_service": "2024-05-01", "place_of_service": "11",
            "lines": [{"code": "97550", "units": 1, "minutes": 30}]}


@pytest.mark.parametrize("index", range(12))
def test_text_in_a_policy_never_runs_and_comes_back_verbatim(tmp_path, index, capsys):
    sentinel = tmp_path / SENTINEL_NAME
    payload = payloads(sentinel)[index]
    path = write_policy(tmp_path, payload)
    evaluator = ctsdsl.compile(path)
    claim = claim_with(payload)
    decision = evaluator.evaluate(claim)
    traced, _ = evaluator.trace(claim)
    for d in (decision, traced):
        messages = {f.rule: f.message for f in d.findings}
        assert messages["by_message"] == payload
        assert messages["by_param"] == payload
        assert messages["by_table"] == f"{payload}|{payload}"
        assert messages["by_claim"] == payload[:100]
        first = d.findings_for(0)[0]
        assert first.title == payload
        assert first.sources[0].title == payload and first.sources[0].url == payload
        assert d.policy.title == payload and d.policy.version == payload
    # the CLI's explain and JSON output too, in-process
    claim_file = tmp_path / "claim.json"
    claim_file.write_text(json.dumps(claim), encoding="utf-8")
    assert main(["explain", str(claim_file), "--policy", str(path), "--all"]) == 0
    capsys.readouterr()
    assert main(["eval", str(claim_file), "--policy", str(path), "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert {f["rule"]: f["message"] for f in body["findings"]}["by_message"] == payload
    assert not sentinel.exists()


@pytest.mark.parametrize("attempt", [
    'rule x"); import os; os.system("touch PWNED")# { deny }',
    "rule __import__('os') { deny }",
    "rule r { deny reason CARC 16); import os }",
    'rule r { deny reason CARC "16" }',
    "let x = __import__('os').system('touch PWNED')",
    "let x = line.__class__",
    "let x = exec(\"1\")",
    'let x = line["code"]',
    "let x = lambda: 1",
    "let x = [c for c in claim.lines]",
    "let x = line.units ** 2",
    "let x = 1; import os",
])
def test_code_outside_strings_is_a_syntax_or_name_error_and_runs_nothing(tmp_path, attempt):
    path = tmp_path / "p.cts"
    path.write_text('policy "p" { payer "test" version "1" effective 2024-01-01 governs "97550" }\n'
                    'source s { title "t" url "u" }\n' + attempt + "\n", encoding="utf-8")
    with pytest.raises(ctsdsl.CtsdslError) as info:
        load_file(path)
    d = info.value.diagnostics[0]
    assert d.span.line >= 3 and d.span.column >= 1, d.render()  # located in the attempt's line
    assert not (tmp_path / SENTINEL_NAME).exists()
    assert not Path(SENTINEL_NAME).exists()


def test_names_that_are_python_builtins_or_generated_locals_mean_only_what_the_policy_says(tmp_path):
    # Each policy name is prefixed in the generated code, so `lines`, `evaluate` or `__import__`
    # cannot reach the function's own variables or Python's builtins.
    body = '''
param __import__: int = 2 cites s
param evaluate: int = 3 cites s
let lines = 7
let exec = __import__ + evaluate
rule den {
  title "den" cites s
  when any(ln in claim.lines where ln.units > 0) and count(i in claim.lines where i.index == 0) == 1
    and any(i_i in claim.lines where i_i.index == 0)
  info
  message "{lines} {exec}"
}
'''
    path = tmp_path / "p.cts"
    path.write_text('policy "p" { payer "test" version "1" effective 2024-01-01 governs "97550" }\n'
                    'source s { title "t" url "u" }\n' + body, encoding="utf-8")
    evaluator = ctsdsl.compile(path)
    claim = claim_with("test")
    claim["lines"].append({"code": "97550", "units": 2})
    for decision in (evaluator.evaluate(claim), evaluator.trace(claim)[0]):
        assert [f.message for f in decision.findings] == ["7 5", "7 5"]
        assert decision.outcome == "pay"


# The generated code may name only these, plus the prefixed names below.
_FIXED = {
    "F", "EMPTY", "Exception", "GOVERNED", "IX", "ZERO", "_U", "_bucket", "_fail", "_num", "_period", "_s",
    "Result", "_nv", "_at", "_round_to", "_HALF_UP", "_given", "zip",
    "_rd", "_ms", "_mc", "_mr", "_div", "TR", "EV", "ap", "fired", "al", "amt", "any", "all", "c", "cp", "den", "doc", "dos", "enumerate",
    "evaluate", "exc", "gov", "i", "ldos", "len", "lines", "ln", "lp", "max", "n", "sum", "u", "units_allowed",
    "Decimal", "bool",
    "sden", "sal",  # what earlier stages decided, as a later stage reads it
    "_rdl",  # a traced read of a quantified line's field, with the line it came from
}
_NUMBERED = re.compile(r"(K|M|D|B|Q|IXK|AD|AP|RT)\d+")  # AD/AP: the date and period an `at(...)` reads on; Q: a memo's key;
# RT: a value `round(...)` quantizes in place
_PREFIXED = re.compile(r"(P_|PV_|R_|T_|F_|v_|vi_|c_|d_|l_)[A-Za-z_][A-Za-z0-9_]*")


def _identifiers(source: str) -> set[str]:
    tree = ast.parse(source)
    assert not any(isinstance(node, (ast.Import, ast.ImportFrom, ast.ClassDef, ast.Global, ast.Nonlocal))
                   for node in ast.walk(tree))
    # The only lambdas are `at(...)`'s: a function of the date and period it reads on, nothing else.
    assert all(_NUMBERED.fullmatch(a.arg) and a.arg[:2] in ("AD", "AP")
               for node in ast.walk(tree) if isinstance(node, ast.Lambda) for a in node.args.args)
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            out.add(node.id)
        elif isinstance(node, ast.arg):
            out.add(node.arg)
        elif isinstance(node, ast.FunctionDef):
            out.add(node.name)
        elif isinstance(node, ast.Attribute):
            out.add("." + node.attr)
    return out


@pytest.mark.parametrize("name", ["medicare-cts-2024", "medicare-cts-2025", "medicare-cts-2026", "injection"])
def test_every_identifier_in_the_generated_code_comes_from_a_fixed_set(tmp_path, name):
    if name == "injection":
        path = write_policy(tmp_path, payloads(tmp_path / SENTINEL_NAME)[0])
        loaded = load_file(path)
    else:
        loaded = ctsdsl.load_policy(name)
    evaluator = loaded.evaluator()
    evaluator.trace(claim_with("test"), validate=False) if name == "injection" else None
    sources = [evaluator.source]  # after trace(), the traced version
    if name != "injection":
        from ctsdsl.engine.compiler import Compiler
        sources = [Compiler(loaded.checked, trace=t).generate().source for t in (False, True)]
    for source in sources:
        for ident in _identifiers(source):
            if ident.startswith("."):
                # methods of tables, dicts, lists and str only, and round()'s in-place quantize of a
                # Decimal (written by the compiler, never named by a policy)
                assert ident in {".get", ".append", ".setdefault", ".join", ".quantize", ".__class__"}, ident
            elif ident.startswith("F_"):
                assert ident[2:] in FUNCTIONS, ident
            else:
                assert ident in _FIXED or _NUMBERED.fullmatch(ident) or _PREFIXED.fullmatch(ident), ident


def test_every_string_in_the_generated_code_is_a_literal_written_by_repr(tmp_path):
    payload = payloads(tmp_path / SENTINEL_NAME)[7]  # newlines and quotes
    evaluator = ctsdsl.compile(write_policy(tmp_path, payload))
    strings = [node.value for node in ast.walk(ast.parse(evaluator.source))
               if isinstance(node, ast.Constant) and isinstance(node.value, str)]
    assert payload in strings  # the message, as one Python string constant
    assert payload not in evaluator.source  # never pasted raw: repr escaped its newline
    assert repr(payload) in evaluator.source


def test_a_data_file_path_cannot_leave_the_policy_folder(tmp_path):
    outside = tmp_path / "outside.csv"
    outside.write_text("code,x\n97550,1\n", encoding="utf-8")
    inner = tmp_path / "policy"
    (inner / "data").mkdir(parents=True)
    (inner / "data" / "link.csv").symlink_to(outside)
    header = 'policy "p" { payer "test" version "1" effective 2024-01-01 governs "97550" }\nsource s { title "t" url "u" }\n'
    for target, fragment in [("../outside.csv", "may not use `..`"), (str(outside), "must be relative"),
                             ("data/link.csv", "resolves outside"), ("data/../../outside.csv", "may not use `..`"),
                             ("C:/x.csv", "must be relative"), ("\\\\server\\x.csv", "must be relative")]:
        path = inner / "p.cts"
        path.write_text(header + f"table t from {policy_string(target)} key code cites s\n", encoding="utf-8")
        diagnostics = ctsdsl.check(path)
        assert any(fragment in d.message and d.span.line == 3 for d in diagnostics), (target, diagnostics)


def test_a_parent_named_by_path_cannot_leave_the_policy_tree(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "parent.cts").write_text('policy "parent" { payer "test" version "1" effective 2024-01-01 }\n',
                                          encoding="utf-8")
    tree = tmp_path / "tree" / "policies"
    tree.mkdir(parents=True)
    child = tree / "child.cts"
    child.write_text('policy "child" { payer "test" version "1" effective 2024-01-01 '
                     'extends "../../elsewhere/parent.cts" }\n', encoding="utf-8")
    assert "unknown-parent" in [d.code for d in ctsdsl.check(child) if d.severity == "error"]


def test_yaml_tags_that_would_build_python_objects_are_refused(tmp_path):
    sentinel = tmp_path / SENTINEL_NAME
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "t.yaml").write_text(
        f"- code: !!python/object/apply:os.system ['touch {sentinel}']\n", encoding="utf-8")
    path = tmp_path / "p.cts"
    path.write_text('policy "p" { payer "test" version "1" effective 2024-01-01 governs "97550" }\n'
                    'source s { title "t" url "u" }\ntable t from "data/t.yaml" key code cites s\n', encoding="utf-8")
    messages = [d.message for d in ctsdsl.check(path)]
    assert any("not valid YAML" in m for m in messages), messages
    claim_file = tmp_path / "claim.yaml"
    claim_file.write_text(f"id: !!python/object/apply:os.system ['touch {sentinel}']\n", encoding="utf-8")
    assert main(["eval", str(claim_file)]) == 2
    assert not sentinel.exists()


def test_a_policy_with_a_syntax_error_in_a_payload_names_its_place(tmp_path):
    path = tmp_path / "p.cts"
    path.write_text('policy "p" {\n  title "unterminated\n}\n', encoding="utf-8")
    with pytest.raises(PolicySyntaxError) as info:
        load_file(path)
    assert (info.value.diagnostics[0].span.line, info.value.diagnostics[0].message) == (2, "unterminated string")


def test_the_compiler_refuses_a_hand_built_tree_with_foreign_operators_literals_or_names(tmp_path):
    # The grammar never produces these; the compiler checks anyway, so a bug upstream cannot become code.
    from ctsdsl.language import nodes as n
    from ctsdsl.engine.compiler import Compiler, Scope, safe_ident
    path = _policy_with_body(tmp_path, "")
    compiler = Compiler(load_file(path).checked)
    scope = Scope({"claim": ("c", None, "claim")}, "dos")
    one = n.Literal(1, "int")
    with pytest.raises(ValueError, match="unknown operator"):
        compiler.expr(n.Binary("+ __import__('os') +", one, one), scope)
    with pytest.raises(TypeError, match="unexpected literal"):
        compiler.expr(n.Literal(Path("/etc/passwd"), "string"), scope)
    with pytest.raises(ValueError, match="unknown quantifier"):
        compiler.expr(n.Quantifier("__import__", "o", n.Name("claim"), None, None), scope)
    for name in ("x\n", "os.system", "a b", "", "1x", "x;y"):
        with pytest.raises(ValueError, match="not an identifier"):
            safe_ident("v_", name)


def _policy_with_body(folder: Path, body: str) -> Path:
    path = folder / "p.cts"
    path.write_text('policy "p" { payer "test" version "1" effective 2024-01-01 governs "97550" }\n'
                    'source s { title "t" url "u" }\n' + body, encoding="utf-8")
    return path
