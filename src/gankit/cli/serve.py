"""`gankit serve RUN_DIR`: the web explorer for one run, on 127.0.0.1 unless told otherwise."""
from __future__ import annotations

import socket
import sys

from gankit.cli.common import add_device
from gankit.core.errors import GankitError


def add_parser(sub) -> None:
    p = sub.add_parser("serve", help="a local web page to explore a trained generator")
    p.add_argument("run", help="a run directory or checkpoint file")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=0, help="port (default: a free one, printed)")
    add_device(p)


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: a free one), or a one-line error when it cannot be had."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        sock = socket.socket(infos[0][0], socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(infos[0][4])
        sock.listen(128)
        return sock
    except OSError as exc:
        raise GankitError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); choose another --port, or "
                          "leave it out for a free one") from exc


def run(args) -> int:
    import uvicorn

    from gankit.web import create_app

    app = create_app(args.run, device=args.device)  # fails here, before listening, on a bad run
    sock = listen(args.host, args.port)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    # the address is printed once the socket listens, so a busy port never shows a URL first
    print(f"gankit explorer for {args.run}: http://{args.host}:{port}/  (Ctrl-C to stop)", file=sys.stderr, flush=True)
    server.run(sockets=[sock])
    return 0
