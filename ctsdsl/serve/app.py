"""The playground's Starlette application: the page, its assets, and the JSON endpoints (docs/playground.md).

Starlette because it is a small, maintained ASGI toolkit (routing, static files, a test client)
with no template engine, ORM or session store to switch off: the playground keeps nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import _resources
from ..engine.decision import Decision
from ..engine.evaluator import Evaluation, Evaluator, shown_path
from ..engine.registry import bundled
from ..errors import ClaimError, CtsdslError, Diagnostic, amounts_in_range
from ..language.overlay import Layer
from ..report.explain import Explanation
from . import encode, inputs

MAX_REQUEST_BYTES = 16 * 1024 * 1024  # a policy (1 MiB at most) and a claim pasted beside it
LOCAL_HOSTS = ("127.0.0.1", "localhost")
EXAMPLE_SUFFIXES = (".json", ".yaml", ".yml", ".837", ".x12")

# The page may load and call only what this server serves: a bug in it cannot send a claim elsewhere.
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
                               "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def static_dir() -> Path:
    return Path(str(resources.files(__package__) / "static"))


def examples_dir() -> Path | None:
    """The example claims: inside the wheel (``ctsdsl/_data/examples``) or at the top of a checkout."""
    for candidate in (Path(str(resources.files("ctsdsl") / "_data" / "examples")),
                      Path(__file__).resolve().parents[2] / "examples" / "claims"):
        if candidate.is_dir():
            return candidate
    return None


class RequestTooLargeError(inputs.RequestError):
    pass


def _json_error(status: int, exc: CtsdslError, location: str = "request") -> JSONResponse:
    return JSONResponse(encode.error_dict(exc, location), status_code=status)


def _status(exc: CtsdslError) -> int:
    if isinstance(exc, RequestTooLargeError):
        return 413
    if isinstance(exc, inputs.RequestError):
        return 400
    return 422  # a claim or policy that cannot be read or decided: the request was understood


class LocalOnly:
    """Answer only requests addressed to this machine by name, and POSTs from the page itself.

    A page on another site can make the browser send requests to 127.0.0.1: a Host that is not
    127.0.0.1 or localhost is a DNS name rebound to this machine, and an Origin other than
    this server's is another site's script. A JSON body (its content type forces the browser's
    preflight, which this server never grants) keeps a plain form from posting at all.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        refusal = None
        if host.rpartition(":")[0] not in LOCAL_HOSTS and host not in LOCAL_HOSTS:
            refusal = 421, f"Host {host!r} is not this machine's loopback name", "open http://127.0.0.1:PORT/"
        elif scope["method"] == "POST":
            origin = headers.get("origin")
            kind = headers.get("content-type", "").split(";")[0].strip().lower()
            if origin is not None and origin != f"http://{host}":
                refusal = 403, f"a page from {origin} may not use this playground", "use the playground's own page"
            elif kind != "application/json":
                refusal = 415, f"the body must be application/json, not {kind or 'untyped'}", \
                    "send Content-Type: application/json"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [(k.lower().encode(), v.encode())
                                                                 for k, v in _HEADERS.items()]
            await send(message)

        if refusal is not None:
            status, message, hint = refusal
            response = _json_error(status, inputs.RequestError(Diagnostic("refused", message, "request", hint=hint)))
            await response(scope, receive, with_headers)
            return
        await self.app(scope, receive, with_headers)


async def _body(request: Request) -> dict:
    size = int(request.headers.get("content-length") or 0)
    chunks, got = [], 0
    if size <= MAX_REQUEST_BYTES:
        async for chunk in request.stream():
            got += len(chunk)
            if got > MAX_REQUEST_BYTES:
                break
            chunks.append(chunk)
    if size > MAX_REQUEST_BYTES or got > MAX_REQUEST_BYTES:
        raise RequestTooLargeError(Diagnostic("request-too-large", f"the request is larger than "
                                              f"{MAX_REQUEST_BYTES} bytes", "request",
                                              hint="decide large files of claims with `ctsdsl batch`"))
    raw = b"".join(chunks)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise inputs.RequestError(Diagnostic("bad-request", f"the body is not UTF-8 (byte {exc.start})",
                                             "request")) from None
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise inputs.RequestError(Diagnostic("bad-request", f"the body is not JSON: {exc.msg}", "request",
                                             _span(exc.lineno, exc.colno))) from None
    except (ValueError, RecursionError) as exc:  # a number of 5000 digits, or nesting past the stack
        raise inputs.RequestError(Diagnostic("bad-request", f"the body is not usable JSON: {type(exc).__name__}",
                                             "request")) from None
    if not isinstance(body, dict):
        raise inputs.bad_request("the body must be a JSON object", "$")
    return body


def _span(line: int, column: int):  # noqa: ANN202 - a Span
    from ..language.nodes import Span
    return Span(line, column, 0, 0)


def _endpoint(work):  # noqa: ANN001, ANN202 - wraps a (body) -> JSON function into a Starlette endpoint
    async def endpoint(request: Request) -> Response:
        try:
            body = await _body(request)
            answer = await run_in_threadpool(work, body)
        except CtsdslError as exc:
            return _json_error(_status(exc), exc, _location(exc))
        return JSONResponse(answer)
    return endpoint


def _location(exc: CtsdslError) -> str:
    first = exc.diagnostics[0].source_name if exc.diagnostics else "request"
    return first if isinstance(exc, ClaimError) else "request" if isinstance(exc, inputs.RequestError) else first


@dataclass(frozen=True)
class Decided:
    """One claim of a request, decided."""

    location: str
    decision: Decision
    evaluations: list[Evaluation]  # empty unless traced
    evaluator: Evaluator
    layers: list[Layer] | None  # the edited or named policy's chain; None when chosen by payer and date


def _decide_each(body: dict, traced: bool) -> tuple[list[Decided], inputs.Policy | None]:
    policy = inputs.policy_of(body)
    out = []
    for location, claim in inputs.claims_in(inputs.claim_of(body)):
        evaluator = policy.evaluator if policy else bundled().evaluator_for(claim)
        try:
            with amounts_in_range(location):
                decision, evaluations = evaluator.trace(claim, validate=False) if traced else (
                    evaluator.evaluate(claim, validate=False), [])
        except CtsdslError as exc:  # name the claim that could not be decided, as `ctsdsl eval` does
            exc.diagnostics = [d if d.source_name != "<claim>" else Diagnostic(
                d.code, d.message, location, d.span, d.hint, d.severity, d.path) for d in exc.diagnostics]
            raise
        out.append(Decided(location, decision, evaluations, evaluator, policy.layers if policy else None))
    return out, policy


def eval_claims(body: dict) -> object:
    """POST /api/eval: what `ctsdsl eval --json` prints, one decision or a list of them."""
    decisions = [d.decision.to_dict() for d in _decide_each(body, traced=False)[0]]
    return decisions[0] if len(decisions) == 1 else decisions


def explain_claims(body: dict) -> dict:
    """POST /api/explain: each claim's location and its explanation, as `ctsdsl explain --format json` prints it.

    One trace shape for the page, the command line and `ctsdsl.explain_claim`
    (schemas/explain.schema.json); the chain is the edited policy's, which is not on disk.
    """
    decided, policy = _decide_each(body, traced=True)
    claims = []
    for d in decided:
        layers = d.layers if d.layers is not None else inputs.layers_for(d.evaluator)
        explanation = Explanation(d.decision, tuple(d.evaluations), d.evaluator, chain=tuple(layers))
        claims.append({"location": d.location, "explanation": explanation.to_dict()})
    return {"claims": claims, "diagnostics": [encode.diagnostic_dict(x) for x in (policy.diagnostics if policy else [])]}


def check_policy(body: dict) -> dict:
    """POST /api/check: the checker's every diagnostic for edited policy text, as `ctsdsl check` finds them."""
    given = body.get("policy")
    if not isinstance(given, dict):
        raise inputs.bad_request("policy must be an object: {\"text\": ..., \"file\": ...}", "$.policy")
    text = inputs.text_field(given, "text", "$.policy", required=True)
    assert text is not None
    file = inputs.text_field(given, "file", "$.policy")
    diagnostics, loaded = inputs.check_policy_text(text, file)
    errors = sum(d.severity == "error" for d in diagnostics)
    return {"ok": not errors and loaded is not None, "errors": errors, "warnings": len(diagnostics) - errors,
            "file": shown_path(str(inputs.edited_path(file))),
            "policy": loaded.evaluator().info.to_dict() if loaded is not None and not errors else None,
            "diagnostics": [encode.diagnostic_dict(d) for d in diagnostics]}


def _policies(request: Request) -> Response:
    registry = bundled()
    root = _resources.policies_dir()
    out = []
    for entry in registry.entries():
        header = registry.load(entry.path).header
        out.append({"name": entry.name, "payer": entry.payer, "version": header.version, "title": header.title,
                    "effective_from": entry.effective_from, "effective_to": entry.effective_to,
                    "file": encode.display_name(entry.path, root)})
    return JSONResponse(out)


def _policy(request: Request) -> Response:
    try:
        file, text = inputs.policy_text(request.path_params["name"])
    except CtsdslError as exc:
        return _json_error(404, exc)
    return JSONResponse({"name": request.path_params["name"], "file": file, "text": text})


def _examples(request: Request) -> Response:
    folder = examples_dir()
    files = sorted(p for p in folder.iterdir() if p.suffix in EXAMPLE_SUFFIXES) if folder else []
    return JSONResponse([{"name": p.name, "text": p.read_text(encoding="utf-8")} for p in files])


def _page(request: Request) -> Response:
    return FileResponse(static_dir() / "index.html", media_type="text/html; charset=utf-8")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    error = inputs.RequestError(Diagnostic("not-found" if exc.status_code == 404 else "bad-request",
                                           f"{request.method} {request.url.path}: {exc.detail}", "request",
                                           hint="the endpoints are listed in docs/playground.md"))
    return _json_error(exc.status_code, error)


async def _internal_error(request: Request, exc: Exception) -> Response:
    # A bug, not bad input: say so without the traceback (which could quote the claim).
    error = CtsdslError(Diagnostic("internal-error", f"internal error: {type(exc).__name__}", "ctsdsl",
                                   hint="this is a bug in ctsdsl; please report it with the input that caused it"))
    return _json_error(500, error)


def create_app() -> ASGIApp:
    """The playground: the page at /, its files under /static, the JSON endpoints under /api."""
    routes = [
        Route("/", _page),
        Mount("/static", app=StaticFiles(directory=static_dir()), name="static"),
        Route("/api/policies", _policies),
        Route("/api/policies/{name}", _policy),
        Route("/api/examples", _examples),
        Route("/api/check", _endpoint(check_policy), methods=["POST"]),
        Route("/api/eval", _endpoint(eval_claims), methods=["POST"]),
        Route("/api/explain", _endpoint(explain_claims), methods=["POST"]),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error, Exception: _internal_error})
    return LocalOnly(app)
