"""`ctsdsl serve`: the playground, a local web page to edit a policy, decide a claim and read the trace.

The page and its JSON endpoints are served on 127.0.0.1 only. Nothing is kept between requests
but compiled policies (never a claim): a claim may hold patient data, so it is read, decided and
forgotten within its request, and the page shares its state by URL fragment, which browsers
never send to a server. Every asset is served from this package: no font, script or style
comes from elsewhere.

Modules: `inputs` reads a request's policy and claim, `encode` turns errors and diagnostics
into JSON (decisions and traces keep their own `Decision.to_dict` and `Explanation.to_dict`),
`app` is the Starlette application, `command` runs it under uvicorn.
"""

from __future__ import annotations

__all__ = ["create_app"]


def create_app():  # noqa: ANN201 - a Starlette app; importing starlette here would cost every `import ctsdsl.serve`
    """The playground's ASGI application (the `serve` extra must be installed)."""
    from .app import create_app as create
    return create()
