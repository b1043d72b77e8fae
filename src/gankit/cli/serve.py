"""`gankit serve RUN_DIR`: the web explorer for one run, on 127.0.0.1 unless told otherwise."""
from __future__ import annotations

import socket
import sys


def add_parser(sub) -> None:
    p = sub.add_parser("serve", help="a local web page to explore a trained generator")
    p.add_argument("run", help="a run directory or checkpoint file")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=0, help="port (default: a free one, printed)")
    p.add_argument("--device", default="cpu")


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def run(args) -> int:
    import uvicorn

    from gankit.web import create_app

    app = create_app(args.run, device=args.device)  # fails here, before listening, on a bad run
    port = args.port or free_port(args.host)
    print(f"gankit explorer for {args.run}: http://{args.host}:{port}/  (Ctrl-C to stop)", file=sys.stderr, flush=True)
    uvicorn.run(app, host=args.host, port=port, log_level="warning")
    return 0
