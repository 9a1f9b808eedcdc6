"""`ctsdsl serve [--port N]`: the playground under uvicorn, on 127.0.0.1 only.

The socket is bound here, before uvicorn starts, so that a port in use is a located usage
error (exit 2) rather than uvicorn's log line and exit 1; and so that ``--port 0`` can say
which port the system chose.
"""

from __future__ import annotations

import socket
import sys

from ..errors import Diagnostic, UsageError

HOST = "127.0.0.1"  # never another interface: a claim may hold patient data
DEFAULT_PORT = 8000


def bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as exc:
        sock.close()
        raise UsageError(Diagnostic("port-unavailable", f"cannot listen on {HOST}:{port}: {exc.strerror or exc}",
                                    "ctsdsl serve", hint="choose another port with --port N (0: any free port)")) from None
    sock.listen(64)
    return sock


def run(port: int) -> int:
    """Serve until Ctrl-C; 0 then."""
    try:
        import uvicorn

        from .app import create_app
    except ImportError as exc:  # the web libraries are an extra, to keep the core install small
        missing = (exc.name or "").split(".")[0]
        if missing not in ("starlette", "uvicorn", "anyio"):
            raise
        raise UsageError(Diagnostic(
            "serve-not-installed", f"the playground needs {missing}, which is not installed", "ctsdsl serve",
            hint="install the extra: pip install 'ctsdsl[serve]' (in a checkout: pip install -e '.[serve]')")) from None
    sock = bind(port)
    chosen = sock.getsockname()[1]
    print(f"ctsdsl playground: http://{HOST}:{chosen}/ (Ctrl-C stops it; nothing you enter is kept)", flush=True)
    config = uvicorn.Config(create_app(), log_level="warning", access_log=False, server_header=False)
    uvicorn.Server(config).run(sockets=[sock])
    print("ctsdsl playground stopped", file=sys.stderr)
    return 0
