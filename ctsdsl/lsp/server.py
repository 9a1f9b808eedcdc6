"""`ctsdsl lsp`: the policy language server, over stdio, on pygls.

Each open policy is checked as it is typed (`loader.check_text`: the unsaved text, inside its
policy tree, so `extends` and data files resolve), and its checked form is indexed for hover,
go-to-definition, references, completion and the outline. The index of the last text that
parsed is kept, because half-typed text (`line.`) does not parse and is exactly where
completion is wanted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from lsprotocol import types as t
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path
from pygls.workspace.position_codec import ServerTextPosition, ServerTextRange

from ..engine.loader import check_text, policy_tree
from ..errors import CtsdslError, Diagnostic
from ..language import nodes as n
from ..language.formatter import format_policy
from .completion import complete
from .hover import hover
from .index import FileIndex, Occurrence, PolicyIndex, index_file, overlays_of

CHECK_DELAY = 0.15  # seconds of quiet typing before a check: one check per pause, not per key
_LOG = logging.getLogger(__name__)

_SEVERITY = {"error": t.DiagnosticSeverity.Error, "warning": t.DiagnosticSeverity.Warning}
_COMPLETION_KIND = {
    "field": t.CompletionItemKind.Field, "column": t.CompletionItemKind.Field, "param": t.CompletionItemKind.Constant,
    "table": t.CompletionItemKind.Struct, "let": t.CompletionItemKind.Variable,
    "function": t.CompletionItemKind.Function, "keyword": t.CompletionItemKind.Keyword,
    "source": t.CompletionItemKind.Reference, "rule": t.CompletionItemKind.Method, "fee": t.CompletionItemKind.Method,
    "variable": t.CompletionItemKind.Variable,
}
_SYMBOL_KIND = {
    "policy": t.SymbolKind.Namespace, "source": t.SymbolKind.Key, "param": t.SymbolKind.Constant,
    "table": t.SymbolKind.Struct, "let": t.SymbolKind.Variable, "rule": t.SymbolKind.Function,
    "fee": t.SymbolKind.Method, "disable": t.SymbolKind.Event,
}
_EXTENDS = re.compile(r'\bextends\s+("[^"\n]*")')


def _lines(text: str) -> list[str]:
    """Lines as the parser counts them (at \\n only), each with its line end."""
    return re.findall(r"[^\n]*\n|[^\n]+$", text) or [""]


@dataclass
class Analysis:
    """What the server knows of one open document."""

    text: str  # the text last checked
    index: PolicyIndex | None  # of the last text that parsed and loaded, which may be older than `text`


class PolicyServer(LanguageServer):
    """A language server for `.cts` policies."""

    def __init__(self) -> None:
        from importlib.metadata import PackageNotFoundError, version
        try:
            own_version = version("ctsdsl")
        except PackageNotFoundError:  # running from a checkout without installing
            own_version = "0+unknown"
        super().__init__("ctsdsl", own_version, text_document_sync_kind=t.TextDocumentSyncKind.Incremental)
        self.analyses: dict[str, Analysis] = {}
        self.pending: dict[str, asyncio.TimerHandle] = {}
        self.tree: Path | None = None  # a folder to treat as the policy tree (`--policies DIR`), if set

    # ------------------------------------------------------------ files and positions

    def path_of(self, uri: str) -> Path:
        """The file a document is (or will be) saved as; an untitled one counts as in the workspace's folder."""
        path = to_fs_path(uri) if uri.startswith("file:") else None
        if path is not None:
            return Path(path)
        return self.root() / "untitled.cts"

    def root(self) -> Path:
        """The workspace's folder: the root the client gave, else its first workspace folder."""
        root = self.workspace.root_path
        if root is None:
            folder = next(iter(self.workspace.folders.values()), None)
            root = to_fs_path(folder.uri) if folder is not None else None
        return Path(root or ".").resolve()

    def in_tree(self) -> contextlib.AbstractContextManager[None]:
        return policy_tree(self.tree) if self.tree is not None else contextlib.nullcontext()

    def text_of(self, file: str) -> str:
        """The text a location in `file` is counted in: the open document's, else the file's as indexed."""
        uri = from_fs_path(file) or file
        if uri in self.analyses:
            return self.workspace.get_text_document(uri).source
        for analysis in self.analyses.values():
            for indexed in analysis.index.files if analysis.index else ():
                if indexed.path == file:
                    return indexed.text
        try:
            return Path(file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return ""  # positions then count as if every character were one unit

    def to_range(self, span: n.Span, text: str) -> t.Range:
        if not span.line:
            return t.Range(t.Position(0, 0), t.Position(0, 0))
        start = ServerTextPosition(span.line - 1, span.column - 1)
        end = ServerTextPosition(span.end_line - 1, span.end_column - 1) if span.end_line else start
        if end <= start:
            end = ServerTextPosition(start.line, start.character + 1)
        return self.workspace.position_codec.range_to_client_units(_lines(text), ServerTextRange(start, end))

    def location(self, occ: Occurrence, text: str | None = None) -> t.Location:
        text = self.text_of(occ.file) if text is None else text
        return t.Location(uri=from_fs_path(occ.file) or occ.file, range=self.to_range(occ.span, text))

    def server_position(self, text: str, position: t.Position) -> tuple[int, int]:
        """A client position as the parser counts it: 1-based line and column in code points."""
        at = self.workspace.position_codec.position_from_client_units(_lines(text), position)
        return at.line + 1, at.character + 1

    # ------------------------------------------------------------ checking

    def schedule(self, uri: str) -> None:
        if (handle := self.pending.pop(uri, None)) is not None:
            handle.cancel()
        self.pending[uri] = asyncio.get_running_loop().call_later(CHECK_DELAY, self.check, uri)

    def fresh(self, uri: str) -> Analysis | None:
        """The analysis of the document as it stands: a check still waiting for a pause in typing runs now."""
        if (handle := self.pending.pop(uri, None)) is not None:
            handle.cancel()
            self.check(uri)
        return self.analyses.get(uri)

    def check(self, uri: str) -> None:
        self.pending.pop(uri, None)
        document = self.workspace.get_text_document(uri)
        text, path = document.source, self.path_of(uri)
        previous = self.analyses.get(uri)
        try:
            with self.in_tree():
                result = check_text(text, path)
                index = PolicyIndex(result.loaded, overlays_of(path)) if result.loaded else None
        except Exception as exc:  # noqa: BLE001 - a bug must not take the editor's server down with it
            _LOG.exception("checking %s", uri)
            self.window_log_message(t.LogMessageParams(type=t.MessageType.Error, message=f"ctsdsl: internal error "
                                                       f"checking {path}: {type(exc).__name__}: {exc} (please report it)"))
            return
        self.analyses[uri] = Analysis(text, index or (previous.index if previous else None))
        diagnostics = [self.diagnostic(d, path, text) for d in result.diagnostics]
        self.text_document_publish_diagnostics(t.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics,
                                                                         version=document.version))

    def diagnostic(self, d: Diagnostic, path: Path, text: str) -> t.Diagnostic:
        message = d.message + (f"\nhint: {d.hint}" if d.hint else "")
        if _same_file(d.source_name, path):
            return t.Diagnostic(range=self.to_range(d.span, text), message=message, severity=_SEVERITY[d.severity],
                                code=d.code, source="ctsdsl")
        # A problem in a parent file: shown at the `extends` that brings it in, pointing at the parent.
        extends = _EXTENDS.search(text)
        span = n.NO_SPAN
        if extends is not None:
            line = text.count("\n", 0, extends.start(1)) + 1
            column = extends.start(1) - text.rfind("\n", 0, extends.start(1))
            span = n.Span(line, column, line, column + len(extends.group(1)))
        where = Path(d.source_name).name + (f":{d.span.line}:{d.span.column}" if d.span.line else "")
        related = [t.DiagnosticRelatedInformation(
            t.Location(from_fs_path(d.source_name) or d.source_name, self.to_range(d.span, self.text_of(d.source_name))),
            d.message)]
        return t.Diagnostic(range=self.to_range(span, text), message=f"in {where}: {message}",
                            severity=_SEVERITY[d.severity], code=d.code, source="ctsdsl", related_information=related)

    # ------------------------------------------------------------ navigation

    def occurrence(self, uri: str, position: t.Position) -> tuple[PolicyIndex, Occurrence] | None:
        """The name under the cursor, if the index (maybe of an older text) still has that name there."""
        analysis = self.fresh(uri)
        if analysis is None or analysis.index is None:
            return None
        text = self.workspace.get_text_document(uri).source
        line, column = self.server_position(text, position)
        occ = analysis.index.at(line, column)
        if occ is None or occ.span.line != line:
            return None
        lines = _lines(text)
        if line > len(lines) or lines[line - 1][occ.span.column - 1:occ.span.end_column - 1] != _as_written(occ):
            return None  # the text moved since it last parsed
        return analysis.index, occ

    def outline(self, uri: str) -> FileIndex | None:
        text = self.workspace.get_text_document(uri).source
        try:
            return index_file(str(self.path_of(uri)), text)
        except CtsdslError:  # half-typed: the outline of the last text that parsed
            analysis = self.analyses.get(uri)
            return analysis.index.files[0] if analysis and analysis.index else None


def _as_written(occ: Occurrence) -> str:
    """The occurrence's text in its file: a parent's or a data file's name is written in quotes."""
    return f'"{occ.name}"' if occ.namespace in ("parent", "data") else occ.name


def _same_file(name: str, path: Path) -> bool:
    try:
        return Path(name).resolve() == path.resolve()
    except OSError:
        return name == str(path)


server = PolicyServer()


@server.feature(t.INITIALIZE)
def initialize(ls: PolicyServer, params: t.InitializeParams) -> None:
    options = params.initialization_options if isinstance(params.initialization_options, dict) else {}
    folder = options.get("policies")
    if isinstance(folder, str) and folder and ls.tree is None:  # the command line's --policies wins
        ls.tree = (ls.root() / folder).resolve()


@server.feature(t.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: PolicyServer, params: t.DidOpenTextDocumentParams) -> None:
    ls.check(params.text_document.uri)


@server.feature(t.TEXT_DOCUMENT_DID_CHANGE)
async def did_change(ls: PolicyServer, params: t.DidChangeTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri)


@server.feature(t.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: PolicyServer, params: t.DidSaveTextDocumentParams) -> None:
    # A saved parent changes what its open overlays inherit: check them all again.
    for uri in list(ls.analyses):
        ls.check(uri)


@server.feature(t.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: PolicyServer, params: t.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    if (handle := ls.pending.pop(uri, None)) is not None:
        handle.cancel()
    ls.analyses.pop(uri, None)
    ls.text_document_publish_diagnostics(t.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


@server.feature(t.TEXT_DOCUMENT_HOVER)
def on_hover(ls: PolicyServer, params: t.HoverParams) -> t.Hover | None:
    found = ls.occurrence(params.text_document.uri, params.position)
    if found is None:
        return None
    index, occ = found
    text = hover(index, occ)
    if text is None:
        return None
    return t.Hover(t.MarkupContent(t.MarkupKind.Markdown, text),
                   ls.to_range(occ.span, ls.workspace.get_text_document(params.text_document.uri).source))


@server.feature(t.TEXT_DOCUMENT_DEFINITION)
def on_definition(ls: PolicyServer, params: t.DefinitionParams) -> list[t.Location] | None:
    found = ls.occurrence(params.text_document.uri, params.position)
    if found is None:
        return None
    index, occ = found
    return [ls.location(d) for d in index.definitions(occ)] or None


@server.feature(t.TEXT_DOCUMENT_REFERENCES)
def on_references(ls: PolicyServer, params: t.ReferenceParams) -> list[t.Location] | None:
    found = ls.occurrence(params.text_document.uri, params.position)
    if found is None:
        return None
    index, occ = found
    return [ls.location(r) for r in index.references(occ, params.context.include_declaration)] or None


@server.feature(t.TEXT_DOCUMENT_COMPLETION, t.CompletionOptions(trigger_characters=["."]))
def on_completion(ls: PolicyServer, params: t.CompletionParams) -> t.CompletionList:
    uri = params.text_document.uri
    analysis = ls.fresh(uri)
    text = ls.workspace.get_text_document(uri).source
    line, column = ls.server_position(text, params.position)
    offset = sum(len(l) for l in _lines(text)[:line - 1]) + column - 1
    items = [t.CompletionItem(c.label, kind=_COMPLETION_KIND.get(c.kind), detail=c.detail or None,
                              documentation=t.MarkupContent(t.MarkupKind.Markdown, c.documentation)
                              if c.documentation else None)
             for c in complete(text, offset, analysis.index if analysis else None)]
    return t.CompletionList(is_incomplete=False, items=items)


@server.feature(t.TEXT_DOCUMENT_FORMATTING)
def on_formatting(ls: PolicyServer, params: t.DocumentFormattingParams) -> list[t.TextEdit] | None:
    uri = params.text_document.uri
    text = ls.workspace.get_text_document(uri).source
    try:
        formatted = format_policy(text, source_name=str(ls.path_of(uri)))
    except CtsdslError:  # a text that does not parse is left alone; its diagnostic says why
        return None
    if formatted == text:
        return []
    lines = _lines(text)
    end = t.Position(len(lines), 0) if text.endswith("\n") else \
        ls.workspace.position_codec.position_to_client_units(lines, ServerTextPosition(len(lines) - 1, len(lines[-1])))
    return [t.TextEdit(t.Range(t.Position(0, 0), end), formatted)]


@server.feature(t.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
def on_document_symbol(ls: PolicyServer, params: t.DocumentSymbolParams) -> list[t.DocumentSymbol]:
    uri = params.text_document.uri
    outline = ls.outline(uri)
    if outline is None:
        return []
    text = outline.text
    return [t.DocumentSymbol(s.name, _SYMBOL_KIND[s.kind], ls.to_range(s.span, text), ls.to_range(s.name_span, text),
                             detail=s.detail or None) for s in outline.symbols]


def serve(tree: Path | None = None) -> int:
    """Run the server on stdin and stdout until the editor closes it.

    Args:
        tree: A folder to treat as the policy tree (as `--policies DIR`); an editor may also
            name one in the `policies` initialization option.
    """
    server.tree = tree.resolve() if tree is not None else None
    server.start_io()
    return 0
