"""`ctsdsl lsp` driven as an editor drives it: a real LSP client (pytest-lsp) over stdio.

The server runs as a subprocess started by the `ctsdsl` command. Each test opens its
documents in it, edits them unsaved where the behaviour is about typing, and reads what an
editor would show. The policies are tests/fixtures/lsp/policies/acme/: a parent, acme-2024,
and an overlay of it that overrides a parameter and a rule and disables another rule.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shlex
import sys
from pathlib import Path

import pytest

pytest.importorskip("pygls", reason="the language server needs the lsp extra: pip install -e '.[lsp]'")
pytest_lsp = pytest.importorskip("pytest_lsp", reason="the server is tested with pytest-lsp (the test extra)")

from lsprotocol import types as t  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities  # noqa: E402

from ctsdsl.claims.fields import catalogue  # noqa: E402
from ctsdsl.language.formatter import format_policy  # noqa: E402

from conftest import FIXTURES, ROOT  # noqa: E402

pytestmark = pytest.mark.asyncio(loop_scope="module")

ACME = FIXTURES / "lsp" / "policies" / "acme"
PARENT = ACME / "acme-2024.cts"
OVERLAY = ACME / "acme-2024-in-person.cts"
_SCRIPT = Path(sys.executable).with_name("ctsdsl")
# As an editor starts it: the installed command; from a checkout without the script, the module.
SERVER = [str(_SCRIPT), "lsp"] if _SCRIPT.is_file() else [sys.executable, "-m", "ctsdsl", "lsp"]


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(server_command=SERVER))
async def client(lsp_client: LanguageClient):
    record_publications(lsp_client)
    await lsp_client.initialize_session(t.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"),
        workspace_folders=[t.WorkspaceFolder(uri=(FIXTURES / "lsp").as_uri(), name="lsp")]))
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(server_command=SERVER))
async def tree_client(lsp_client: LanguageClient):
    """A server told, as the VS Code setting ctsdsl.policies tells it, which folder is the policy tree."""
    record_publications(lsp_client)
    await lsp_client.initialize_session(t.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"),
        workspace_folders=[t.WorkspaceFolder(uri=(FIXTURES / "lsp").as_uri(), name="lsp")],
        initialization_options={"policies": "payer-tree"}))
    yield
    await lsp_client.shutdown_session()


# ---------------------------------------------------------------- helpers


def at(text: str, needle: str, nth: int = 0, plus: int = 0) -> t.Position:
    """The position of the nth `needle` in `text` (plus some characters): the fixtures are ASCII."""
    offset = -1
    for _ in range(nth + 1):
        offset = text.index(needle, offset + 1)
    offset += plus
    line = text.count("\n", 0, offset)
    return t.Position(line=line, character=offset - (text.rfind("\n", 0, offset) + 1))


def line_of(path: Path, needle: str) -> int:
    """The 0-based line of the first `needle` in a file."""
    return at(path.read_text(encoding="utf-8"), needle).line


async def open_document(client: LanguageClient, path: Path, text: str | None = None) -> list[t.Diagnostic]:
    """Open a document (its text on disk unless given) and return the diagnostics published for it."""
    uri = path.as_uri()
    text = path.read_text(encoding="utf-8") if text is None else text
    client.text_document_did_open(t.DidOpenTextDocumentParams(t.TextDocumentItem(uri, "cts", 1, text)))
    return await published(client, uri, 1)


_PUBLISHED: dict[int, dict[tuple[str, int | None], list[t.Diagnostic]]] = {}


def record_publications(client: LanguageClient) -> None:
    """Keep every publishDiagnostics the server sends, by document and version.

    A client's wait_for_notification sees only a notification that arrives while it waits: when
    the server publishes for a parent and then at once for the overlay, the second can come in
    between two waits and be dropped, and a test would wait for it forever (seen on a loaded machine).
    """
    kept = _PUBLISHED.setdefault(id(client), {})
    handle = client.protocol._handle_notification

    def keep(method_name, params):
        if method_name == t.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS:
            kept[(params.uri, params.version)] = list(params.diagnostics)
        return handle(method_name, params)

    client.protocol._handle_notification = keep


async def published(client: LanguageClient, uri: str, version: int) -> list[t.Diagnostic]:
    """The diagnostics the server publishes for this version of the document (skipping any for others)."""
    kept = _PUBLISHED[id(client)]
    for _second in range(120):
        if (uri, version) in kept:
            return kept[(uri, version)]
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(client.wait_for_notification(t.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS), timeout=1)
    raise AssertionError(f"the server published no diagnostics for version {version} of {uri} in 120 s")


def close_document(client: LanguageClient, path: Path) -> None:
    client.text_document_did_close(t.DidCloseTextDocumentParams(t.TextDocumentIdentifier(path.as_uri())))


async def edit(client: LanguageClient, path: Path, version: int, start: t.Position, end: t.Position,
               new_text: str) -> list[t.Diagnostic]:
    """Replace a range as a keystroke does (an incremental change) and return the diagnostics that follow."""
    uri = path.as_uri()
    client.text_document_did_change(t.DidChangeTextDocumentParams(
        t.VersionedTextDocumentIdentifier(version=version, uri=uri),
        [t.TextDocumentContentChangePartial(range=t.Range(start, end), text=new_text)]))
    return await published(client, uri, version)


async def hover_text(client: LanguageClient, path: Path, position: t.Position) -> str:
    result = await client.text_document_hover_async(t.HoverParams(t.TextDocumentIdentifier(path.as_uri()), position))
    assert result is not None and isinstance(result.contents, t.MarkupContent)
    return result.contents.value


async def definition(client: LanguageClient, path: Path, position: t.Position) -> list[t.Location]:
    result = await client.text_document_definition_async(
        t.DefinitionParams(t.TextDocumentIdentifier(path.as_uri()), position))
    assert isinstance(result, list)
    return [loc for loc in result if isinstance(loc, t.Location)]


async def labels(client: LanguageClient, path: Path, position: t.Position) -> set[str]:
    result = await client.text_document_completion_async(t.CompletionParams(
        t.TextDocumentIdentifier(path.as_uri()), position,
        context=t.CompletionContext(t.CompletionTriggerKind.TriggerCharacter, trigger_character=".")))
    items = result.items if isinstance(result, t.CompletionList) else result or []
    return {item.label for item in items}


def end_of(text: str) -> t.Position:
    return at(text + "\0", "\0")


# ---------------------------------------------------------------- diagnostics


async def test_diagnostics_follow_the_text_as_it_is_typed(client: LanguageClient):
    text = OVERLAY.read_text(encoding="utf-8")
    assert await open_document(client, OVERLAY) == []
    # Delete the `s` of `max_units` in the override's condition, as a backspace would.
    s = at(text, "line.units > max_units", plus=len("line.units > max_unit"))
    diagnostics = await edit(client, OVERLAY, 2, s, t.Position(s.line, s.character + 1), "")
    [typo] = diagnostics
    assert typo.code == "unknown-name" and typo.severity == t.DiagnosticSeverity.Error
    assert typo.range == t.Range(t.Position(s.line, s.character - len("max_unit")), s)
    assert "unknown name `max_unit`" in typo.message and "hint: did you mean `max_units`?" in typo.message
    assert await edit(client, OVERLAY, 3, s, s, "s") == []
    close_document(client, OVERLAY)


async def test_an_unsaved_policy_finds_its_parent_and_data_files_inside_its_tree(client: LanguageClient):
    unsaved = ACME / "not-saved-yet.cts"
    assert not unsaved.exists()
    text = OVERLAY.read_text(encoding="utf-8").replace('"acme-2024-in-person"', '"acme-2024-new"') + \
        '\ntable extra_fees from "data/fees.csv" key code cites acme_memo\n'
    assert await open_document(client, unsaved, text) == []
    diagnostics = await edit(client, unsaved, 2, at(text, "data/fees.csv", plus=5), at(text, "data/fees.csv", plus=9),
                             "nope")
    [missing] = diagnostics
    assert "data file not found" in missing.message and "did you mean 'fees.csv'" in missing.message
    close_document(client, unsaved)


async def test_a_syntax_error_is_a_diagnostic_where_the_text_breaks(client: LanguageClient, tmp_path: Path):
    text = PARENT.read_text(encoding="utf-8").replace("reduce units to max_units", "reduce units to")
    [broken] = await open_document(client, tmp_path / "broken.cts", text)
    assert broken.code == "syntax"
    assert broken.range.start.line == line_of(PARENT, "reduce units to max_units") + 1  # the next entry's line
    close_document(client, tmp_path / "broken.cts")


async def test_a_problem_in_the_parent_is_shown_at_the_extends_that_brings_it_in(client: LanguageClient,
                                                                                 tmp_path: Path):
    tree = tmp_path / "policies"
    tree.mkdir()
    (tree / "data").mkdir()
    (tree / "data" / "fees.csv").write_text((ACME / "data" / "fees.csv").read_text(encoding="utf-8"))
    parent_text = PARENT.read_text(encoding="utf-8").replace("* rate_factor", "* rate_facto")
    (tree / "acme-2024.cts").write_text(parent_text, encoding="utf-8")
    overlay = tree / "overlay.cts"
    text = OVERLAY.read_text(encoding="utf-8")
    diagnostics = await open_document(client, overlay, text)
    [inherited] = [d for d in diagnostics if d.code == "unknown-name"]
    assert inherited.range.start == at(text, '"acme-2024"')
    assert inherited.message.startswith(f"in acme-2024.cts:{at(parent_text, 'rate_facto,').line + 1}:")
    assert inherited.related_information is not None
    [where] = inherited.related_information
    assert where.location.uri == (tree / "acme-2024.cts").as_uri()
    assert where.location.range.start == at(parent_text, "rate_facto,")
    close_document(client, overlay)


async def test_a_tree_named_in_the_settings_lets_an_overlay_find_its_parent_in_another_folder(
        client: LanguageClient, tree_client: LanguageClient):
    overlay = FIXTURES / "lsp" / "payer-tree" / "overlays" / "payer-overlay.cts"
    [lost] = await open_document(client, overlay)  # by default the tree is the overlay's own folder
    assert lost.code == "unknown-parent"
    close_document(client, overlay)
    assert await open_document(tree_client, overlay) == []
    [parent] = await definition(tree_client, overlay, at(overlay.read_text(encoding="utf-8"), "max_units"))
    assert parent.uri == (FIXTURES / "lsp" / "payer-tree" / "base" / "payer-base.cts").as_uri()
    close_document(tree_client, overlay)


# ---------------------------------------------------------------- hover


async def test_hover_on_a_rule_gives_its_title_and_citations(client: LanguageClient):
    text = OVERLAY.read_text(encoding="utf-8")
    await open_document(client, OVERLAY)
    shown = await hover_text(client, OVERLAY, at(text, "rule short_session", plus=6))
    assert "**rule short_session**: Sessions under 16 minutes" in shown  # the title it inherits
    assert "[Acme provider manual, section 7](https://example.com/acme/manual#7) (verified)" in shown
    assert "[Acme memo 12: in-person sessions](https://example.com/acme/memo-12) (likely)" in shown
    assert "defined in acme-2024.cts; overridden in acme-2024-in-person.cts" in shown
    close_document(client, OVERLAY)


async def test_hover_on_a_dated_parameter_lists_each_value_with_its_sources(client: LanguageClient):
    text = PARENT.read_text(encoding="utf-8")
    await open_document(client, PARENT)
    shown = await hover_text(client, PARENT, at(text, "* rate_factor", plus=3))
    assert "**param rate_factor**: `number`" in shown
    assert "| 2024-01-01 | 2024-06-30 | `1.0` | [Acme provider manual, section 7]" in shown
    assert "| 2024-07-01 |  | `0.95` |" in shown
    close_document(client, PARENT)


async def test_hover_on_an_overridden_parameter_gives_the_overlays_value(client: LanguageClient):
    text = OVERLAY.read_text(encoding="utf-8")
    await open_document(client, OVERLAY)
    shown = await hover_text(client, OVERLAY, at(text, "> max_units", plus=2))
    assert shown.startswith("**param max_units**: `int` = `2`")
    assert "[Acme memo 12: in-person sessions]" in shown
    close_document(client, OVERLAY)


async def test_hover_on_a_source_gives_its_title_url_and_confidence(client: LanguageClient):
    text = OVERLAY.read_text(encoding="utf-8")
    await open_document(client, OVERLAY)
    shown = await hover_text(client, OVERLAY, at(text, "cites acme_manual", plus=6))
    assert shown == ("**source acme_manual**: Acme provider manual, section 7\n\nhttps://example.com/acme/manual#7"
                     "\n\nconfidence verified, dated 2023-12-01")
    close_document(client, OVERLAY)


async def test_hover_on_a_claim_field_gives_its_type_and_description_from_the_schema(client: LanguageClient):
    text = PARENT.read_text(encoding="utf-8")
    await open_document(client, PARENT)
    minutes = catalogue()["line"]["minutes"]
    shown = await hover_text(client, PARENT, at(text, "line.minutes", plus=5))
    assert shown.startswith("**line.minutes**: `int` (optional")
    assert minutes.description and shown.endswith(minutes.description)
    column = await hover_text(client, PARENT, at(text, "].amount", plus=2))
    assert column.startswith("**fees[...].amount**: `number`") and "fees.csv" in column
    close_document(client, PARENT)


# ---------------------------------------------------------------- definition and references


async def test_definition_of_an_inherited_name_jumps_into_the_parent(client: LanguageClient):
    text = OVERLAY.read_text(encoding="utf-8")
    await open_document(client, OVERLAY)
    [let] = await definition(client, OVERLAY, at(text, "session_minutes <"))
    assert let.uri == PARENT.as_uri()
    assert let.range.start == at(PARENT.read_text(encoding="utf-8"), "session_minutes =")
    [source] = await definition(client, OVERLAY, at(text, "cites acme_manual", plus=8))
    assert (source.uri, source.range.start.line) == (PARENT.as_uri(), line_of(PARENT, "source acme_manual"))
    close_document(client, OVERLAY)


async def test_definition_of_an_override_or_a_disable_is_what_it_replaces(client: LanguageClient):
    text = OVERLAY.read_text(encoding="utf-8")
    await open_document(client, OVERLAY)
    [param] = await definition(client, OVERLAY, at(text, "param max_units", plus=6))
    assert (param.uri, param.range.start.line) == (PARENT.as_uri(), line_of(PARENT, "param max_units"))
    [rule] = await definition(client, OVERLAY, at(text, "disable too_many_units", plus=8))
    assert (rule.uri, rule.range.start.line) == (PARENT.as_uri(), line_of(PARENT, "rule too_many_units"))
    [parent] = await definition(client, OVERLAY, at(text, '"acme-2024"', plus=1))
    assert parent.uri == PARENT.as_uri()
    close_document(client, OVERLAY)


async def test_definition_of_a_table_and_of_its_data_file(client: LanguageClient):
    text = PARENT.read_text(encoding="utf-8")
    await open_document(client, PARENT)
    [table] = await definition(client, PARENT, at(text, "fees[line.code]"))
    assert table.range.start == at(text, "fees from")
    [data] = await definition(client, PARENT, at(text, '"data/fees.csv"', plus=2))
    assert data.uri == (ACME / "data" / "fees.csv").as_uri()
    [column] = await definition(client, PARENT, at(text, "].amount", plus=2))
    assert column.uri == data.uri
    close_document(client, PARENT)


async def test_references_of_a_parameter_cover_the_parent_and_its_overlays(client: LanguageClient):
    parent_text, overlay_text = PARENT.read_text(encoding="utf-8"), OVERLAY.read_text(encoding="utf-8")
    await open_document(client, PARENT)

    async def references(include_declaration: bool) -> set[tuple[str, int, int]]:
        found = await client.text_document_references_async(t.ReferenceParams(
            t.ReferenceContext(include_declaration), t.TextDocumentIdentifier(PARENT.as_uri()),
            at(parent_text, "param max_units", plus=7)))
        return {(Path(loc.uri).name, loc.range.start.line, loc.range.start.character) for loc in found or []}

    def place(path: Path, text: str, needle: str, plus: int) -> tuple[str, int, int]:
        position = at(text, needle, plus=plus)
        return (path.as_uri().rsplit("/", 1)[1], position.line, position.character)

    uses = {place(PARENT, parent_text, "to max_units", 3), place(PARENT, parent_text, "{max_units}", 1),
            place(OVERLAY, overlay_text, "> max_units", 2)}
    definitions = {place(PARENT, parent_text, "param max_units", 6), place(OVERLAY, overlay_text, "param max_units", 6)}
    assert await references(include_declaration=False) == uses
    assert await references(include_declaration=True) == uses | definitions
    close_document(client, PARENT)


async def test_references_of_a_rule_include_its_override_and_its_disable(client: LanguageClient):
    parent_text = PARENT.read_text(encoding="utf-8")
    await open_document(client, PARENT)
    found = await client.text_document_references_async(t.ReferenceParams(
        t.ReferenceContext(False), t.TextDocumentIdentifier(PARENT.as_uri()),
        at(parent_text, "rule too_many_units", plus=5)))
    assert [(Path(loc.uri).name, loc.range.start.line) for loc in found or []] == \
        [(OVERLAY.name, line_of(OVERLAY, "disable too_many_units"))]
    close_document(client, PARENT)


# ---------------------------------------------------------------- completion


async def test_completion_offers_the_fields_of_what_is_before_the_dot(client: LanguageClient):
    text = OVERLAY.read_text(encoding="utf-8")
    await open_document(client, OVERLAY)
    version = 1
    for typed, expected in [
        ("\nrule r {\n  when line.", set(catalogue()["line"])),
        ("claim.", set(catalogue()["claim"])),
        ("claim.documentation.", set(catalogue()["documentation"])),
        ("any(o in claim.lines where o.", set(catalogue()["line"])),
        ("fees[line.code].", {"code", "amount", "description"}),
    ]:
        version += 1
        await edit(client, OVERLAY, version, end_of(text), end_of(text), typed)
        text += typed
        assert await labels(client, OVERLAY, end_of(text)) == expected, typed
        text += " or "  # the next expression starts after an operator
        version += 1
        await edit(client, OVERLAY, version, end_of(text[:-4]), end_of(text[:-4]), " or ")
    close_document(client, OVERLAY)


async def test_completion_offers_sources_after_cites_and_the_parents_rules_after_disable(client: LanguageClient):
    text = OVERLAY.read_text(encoding="utf-8")
    await open_document(client, OVERLAY)
    await edit(client, OVERLAY, 2, end_of(text), end_of(text), "\nrule r {\n  cites ")
    text += "\nrule r {\n  cites "
    assert await labels(client, OVERLAY, end_of(text)) == {"acme_manual", "acme_memo"}
    await edit(client, OVERLAY, 3, end_of(text), end_of(text), "acme_memo\n}\ndisable ")
    text += "acme_memo\n}\ndisable "
    assert await labels(client, OVERLAY, end_of(text)) == {"too_many_units", "short_session"}
    close_document(client, OVERLAY)


async def test_completion_in_a_rule_offers_its_keywords_and_the_policys_names(client: LanguageClient):
    text = PARENT.read_text(encoding="utf-8")
    await open_document(client, PARENT)
    inside = at(text, "  deny\n", plus=2)
    offered = await labels(client, PARENT, inside)
    assert {"when", "deny", "reduce", "message", "max_units", "rate_factor", "fees", "session_minutes",
            "coalesce", "claim", "line"} <= offered
    assert "units_allowed" not in offered  # a fee's name, not a rule's
    close_document(client, PARENT)


# ---------------------------------------------------------------- formatting and symbols


async def test_formatting_lays_the_document_out_as_ctsdsl_fmt_does(client: LanguageClient, tmp_path: Path):
    canonical = PARENT.read_text(encoding="utf-8")
    assert format_policy(canonical) == canonical  # the fixture is what `ctsdsl fmt` writes
    messy = canonical.replace("param max_units: int = 3", "param   max_units :int=3").replace("\n  ", "\n\t    ")
    path = tmp_path / "messy.cts"
    await open_document(client, path, messy)
    edits = await client.text_document_formatting_async(t.DocumentFormattingParams(
        t.TextDocumentIdentifier(path.as_uri()), t.FormattingOptions(tab_size=2, insert_spaces=True)))
    [whole] = edits or []
    assert whole.range.start == t.Position(0, 0) and whole.range.end == end_of(messy)
    assert whole.new_text == canonical
    await edit(client, path, 2, t.Position(0, 0), t.Position(0, 0), "rule {\n")
    assert not await client.text_document_formatting_async(t.DocumentFormattingParams(
        t.TextDocumentIdentifier(path.as_uri()), t.FormattingOptions(tab_size=2, insert_spaces=True)))
    close_document(client, path)


async def test_document_symbols_outline_the_policy(client: LanguageClient):
    text = PARENT.read_text(encoding="utf-8")
    await open_document(client, PARENT)
    symbols = await client.text_document_document_symbol_async(
        t.DocumentSymbolParams(t.TextDocumentIdentifier(PARENT.as_uri())))
    assert [(s.name, s.kind) for s in symbols or [] if isinstance(s, t.DocumentSymbol)] == [
        ("acme-2024", t.SymbolKind.Namespace), ("acme_manual", t.SymbolKind.Key),
        ("max_units", t.SymbolKind.Constant), ("rate_factor", t.SymbolKind.Constant), ("fees", t.SymbolKind.Struct),
        ("session_minutes", t.SymbolKind.Variable), ("too_many_units", t.SymbolKind.Function),
        ("short_session", t.SymbolKind.Function), ("acme_fee", t.SymbolKind.Method)]
    max_units = next(s for s in symbols or [] if s.name == "max_units")
    assert isinstance(max_units, t.DocumentSymbol)
    assert max_units.selection_range.start == at(text, "max_units")
    close_document(client, PARENT)


# ---------------------------------------------------------------- the bundled policies


async def test_the_bundled_overlay_chain_checks_clean_and_navigates_into_its_parents(client: LanguageClient):
    newest = ROOT / "policies" / "medicare" / "cts-2026.cts"
    text = newest.read_text(encoding="utf-8")
    assert [d for d in await open_document(client, newest) if d.severity == t.DiagnosticSeverity.Error] == []
    [parent] = await definition(client, newest, at(text, '"medicare-cts-2025"', plus=1))
    assert parent.uri == (ROOT / "policies" / "medicare" / "cts-2025.cts").as_uri()
    override = text[text.index("override param ") + len("override param "):].split(":")[0].split()[0]
    [replaced] = await definition(client, newest, at(text, f"override param {override}", plus=15))
    assert replaced.uri.startswith((ROOT / "policies" / "medicare").as_uri())
    assert replaced.uri != newest.as_uri()
    close_document(client, newest)


# ---------------------------------------------------------------- docs/editors.md


_EXAMPLE = re.compile(r"<!-- lsp-example: (\w+) (.*?) -->\n```\w*\n(.*?)```", re.S)


async def answer(client: LanguageClient, kind: str, args: list[str]) -> str:
    """What the server answers to one example of docs/editors.md, written as the page shows it."""
    path = ACME / args[0]
    text = path.read_text(encoding="utf-8")
    if kind == "diagnostic":  # FILE NEEDLE REPLACEMENT: the file with a mistake typed in
        unsaved = path.with_name("example-" + path.name)
        shown = [f"{d.range.start.line + 1}:{d.range.start.character + 1}: {_SEVERITY_WORD[d.severity]} {d.code}: "
                 f"{d.message}" for d in await open_document(client, unsaved, text.replace(args[1], args[2], 1))]
        close_document(client, unsaved)
        return "\n".join(shown) + "\n"
    await open_document(client, path)
    try:
        if kind == "hover":  # FILE NEEDLE PLUS: hover at the needle, so many characters in
            return await hover_text(client, path, at(text, args[1], plus=int(args[2]))) + "\n"
        assert kind == "completion", kind  # FILE TYPED: completion after typing at the end
        await edit(client, path, 2, end_of(text), end_of(text), args[1].encode().decode("unicode_escape"))
        result = await client.text_document_completion_async(t.CompletionParams(
            t.TextDocumentIdentifier(path.as_uri()), end_of(text + args[1].encode().decode("unicode_escape"))))
        items = result.items if isinstance(result, t.CompletionList) else result or []
        return "".join(f"{item.label:<28}{item.detail or ''}".rstrip() + "\n" for item in items)
    finally:
        close_document(client, path)


_SEVERITY_WORD = {t.DiagnosticSeverity.Error: "error", t.DiagnosticSeverity.Warning: "warning"}


async def test_the_examples_in_docs_editors_md_are_what_the_server_answers(client: LanguageClient):
    page = (ROOT / "docs" / "editors.md").read_text(encoding="utf-8")
    examples = _EXAMPLE.findall(page)
    assert len(examples) >= 3
    for kind, args, shown in examples:
        actual = await answer(client, kind, shlex.split(args))
        assert actual == shown, f"docs/editors.md: the {kind} example ({args}) is out of date; the server answers:\n{actual}"
