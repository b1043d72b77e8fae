"""`gankit serve RUN_DIR`: a local page to explore one trained generator, over a JSON + PNG API that calls the
latent Renderer. Every request is bounded and validated; the client never names a file; generation runs in
the server's worker threads (plain `def` endpoints), one at a time, so the event loop stays responsive."""
from __future__ import annotations

import base64
import io
import threading
from importlib import resources
from pathlib import Path
from typing import Annotated, Callable, Literal

import numpy as np
from fastapi import FastAPI, File, Form, HTTPException, Query, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field

from gankit.core.errors import GankitError
from gankit.core.images import make_grid, png_bytes
from gankit.latent.render import Renderer
from gankit.models import PSI_RANGE

MAX_BATCH = 64  # images or latents per request
MAX_STEPS = 32  # interpolation frames
MAX_UPLOAD = 5 * 2**20  # bytes
MAX_INVERT_STEPS = 500
# the largest request body: an upload and its form fields, or JSON of 8 groups of 64 latents of a few hundred
# numbers; larger bodies are refused before they are read (Content-Length) or as soon as they pass it (chunked)
MAX_BODY = MAX_UPLOAD + 3 * 2**20

Float = Annotated[float, Field(allow_inf_nan=False)]
Seed = Annotated[int, Field(ge=0, lt=2**31)]
Label = Annotated[str, Field(max_length=64)] | Annotated[int, Field(ge=0, lt=10_000)] | None
Psi = Annotated[float, Field(ge=PSI_RANGE[0], le=PSI_RANGE[1], allow_inf_nan=False)]  # the one range, from latent


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")  # unknown fields are a 422, not ignored


class SampleRequest(Strict):
    seeds: list[Seed] = Field(min_length=1, max_length=MAX_BATCH)
    label: Label = None
    psi: Psi | None = None  # the run's own (model.psi)


class Latents(Strict):
    """Plain latents, as /api/sample returned them; their length is checked against the generator's z_dim."""

    latents: list[list[Float]] = Field(min_length=1, max_length=MAX_BATCH)


class InterpolateRequest(Strict):
    a: list[Float] = Field(min_length=1, max_length=4096)
    b: list[Float] = Field(min_length=1, max_length=4096)
    steps: int = Field(8, ge=2, le=MAX_STEPS)
    mode: Literal["slerp", "lerp"] = "slerp"
    label: Label = None
    psi: Psi | None = None  # the run's own (model.psi)


class ArithmeticRequest(Strict):
    """Groups of latents (each averaged) and an expression over their names, e.g. "plus - minus + base"."""

    groups: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,31}$")], Latents] = Field(
        min_length=1, max_length=8)
    expression: str = Field(min_length=1, max_length=200)
    label: Label = None
    psi: Psi | None = None  # the run's own (model.psi)


class EditRequest(Strict):
    """Move `target` along mean(positive) - mean(negative) by each alpha."""

    target: Latents
    positive: Latents
    negative: Latents
    alphas: list[Annotated[float, Field(ge=-10, le=10, allow_inf_nan=False)]] = Field(min_length=1, max_length=16)
    label: Label = None
    psi: Psi | None = None  # the run's own (model.psi)


class BodyLimit:
    """ASGI middleware: a request body over `limit` bytes is answered 413 without being read. A declared
    Content-Length is checked up front; a chunked body is read into memory only up to the limit, then
    handed on as one piece."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None:
            if not length.isdigit() or int(length) > self.limit:
                return await self._refuse(send)
            return await self.app(scope, receive, send)
        if b"chunked" not in headers.get(b"transfer-encoding", b""):
            return await self.app(scope, receive, send)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None  # the client went away
            size += len(message.get("body", b""))
            if size > self.limit:
                return await self._refuse(send)
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body, sent = b"".join(chunks), False

        async def replay():
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await self.app(scope, replay, send)

    async def _refuse(self, send) -> None:
        detail = f'{{"detail": "the request body is larger than {self.limit // 2**20} MB"}}'.encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"connection", b"close"),
                                (b"content-length", str(len(detail)).encode())]})
        await send({"type": "http.response.body", "body": detail})


def _data_url(image: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode()


def _data_urls(images) -> list[str]:
    return [_data_url(im) for im in images]


class Explorer:
    """The app's state: one Renderer for one run, used by one request at a time."""

    def __init__(self, run_dir: Path, device: str = "cpu"):
        self.run_dir = run_dir if run_dir.is_dir() else run_dir.parent
        self.renderer = Renderer.open(run_dir, device=device)
        self.lock = threading.Lock()

    def call(self, method: Callable[..., dict], **kwargs) -> dict:
        """One Renderer method (e.g. `Renderer.sample`) with keyword arguments, under the lock; its error
        text becomes a 400."""
        with self.lock:
            out = method(self.renderer, **kwargs)
        if out.get("error"):
            raise HTTPException(status_code=400, detail=out["error"])
        return out

    def codes(self, latents: list[list[float]], label):
        try:
            return self.renderer.codes(latents, label)
        except GankitError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc


def _invalid(request, exc: RequestValidationError) -> JSONResponse:
    """Where and what, without echoing the input back (it may hold NaN, which JSON cannot carry)."""
    errors = [{"loc": [str(part) for part in e.get("loc", ())], "msg": e.get("msg", "invalid")} for e in exc.errors()]
    return JSONResponse(status_code=422, content={"detail": errors})


def create_app(run_dir: str | Path, device: str = "cpu") -> FastAPI:
    """The web app for the run in `run_dir` (and only that run)."""
    ex = Explorer(Path(run_dir), device)
    app = FastAPI(title="gankit explorer", docs_url=None, redoc_url=None)
    app.add_middleware(BodyLimit, limit=MAX_BODY)
    app.add_exception_handler(RequestValidationError, _invalid)
    static = resources.files("gankit") / "web" / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    report_dir = ex.run_dir / "report"
    if report_dir.is_dir():
        app.mount("/report", StaticFiles(directory=str(report_dir)), name="report")

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return (static / "index.html").read_text()

    @app.get("/api/info")
    def info() -> dict:
        return {**ex.renderer.info(), "report": (ex.run_dir / "report.html").is_file(),
                "limits": {"batch": MAX_BATCH, "steps": MAX_STEPS, "upload_bytes": MAX_UPLOAD}}

    @app.get("/report.html")
    def report() -> FileResponse:
        path = ex.run_dir / "report.html"
        if not path.is_file():
            raise HTTPException(status_code=404, detail="this run has no report yet: run `gankit report RUN_DIR`")
        return FileResponse(path)

    @app.post("/api/sample")
    def sample(req: SampleRequest) -> dict:
        out = ex.call(Renderer.sample, seeds=req.seeds, label=req.label, psi=req.psi)
        return {"images": _data_urls(out["images"]), "latents": out["latents"]}

    @app.get("/api/grid.png")
    def grid(seed: Seed = 0, n: int = Query(16, ge=1, le=MAX_BATCH), psi: Psi | None = None,
             label: str | None = Query(None, max_length=64)) -> Response:
        out = ex.call(Renderer.sample, seeds=list(range(seed, seed + n)), label=label, psi=psi)
        return Response(png_bytes(make_grid(out["images"])), media_type="image/png")

    @app.post("/api/interpolate")
    def interpolate(req: InterpolateRequest) -> dict:
        points = ex.codes([req.a, req.b], req.label)
        # the Renderer counts intervals per leg; the page asks for frames, both ends included
        out = ex.call(Renderer.interpolate, seeds=[], steps=req.steps - 1, mode=req.mode, psi=req.psi,
                      points=points)
        return {"images": _data_urls(out["images"]), "latents": out["latents"]}

    @app.post("/api/arithmetic")
    def arithmetic(req: ArithmeticRequest) -> dict:
        groups = {name: ex.codes(g.latents, req.label) for name, g in req.groups.items()}
        out = ex.call(Renderer.arithmetic, expression=req.expression, groups=groups, label=req.label, psi=req.psi)
        return {"images": _data_urls(out["images"]), "latents": out["latents"],
                "groups": {name: _data_url(im) for name, im in out["groups"].items()}}

    @app.post("/api/edit")
    def edit(req: EditRequest) -> dict:
        target, pos, neg = (ex.codes(g.latents, req.label) for g in (req.target, req.positive, req.negative))
        out = ex.call(Renderer.edit, targets=target, positive=pos, negative=neg, alphas=req.alphas, label=req.label,
                      psi=req.psi)
        return {"images": _data_urls(out["images"]), "rows": out["rows"], "columns": out["columns"]}

    @app.post("/api/invert")
    def invert(file: UploadFile = File(...), steps: int = Form(200, ge=1, le=MAX_INVERT_STEPS),
               label: str | None = Form(None, max_length=64), sketch: bool = Form(False)) -> dict:
        out = ex.call(Renderer.invert, paths=[io.BytesIO(_upload(file))], steps=steps, label=label, sketch=sketch)
        return {"images": _data_urls(out["images"]), "target": _data_url(out["targets"][0]),
                "latents": out["latents"], "mse": out["errors"][0]}

    @app.post("/api/translate")
    def translate(file: UploadFile = File(...), seed: Seed = Form(0)) -> dict:
        """An image-to-image run: the uploaded image (a drawing, a small photo) -> its output."""
        out = ex.call(Renderer.translate, file=io.BytesIO(_upload(file)), seed=seed)
        return {"image": _data_url(out["images"][0]), "source": _data_url(out["sources"][0])}

    return app


def _upload(file: UploadFile) -> bytes:
    """The uploaded bytes, refused when empty or over MAX_UPLOAD."""
    raw = file.file.read(MAX_UPLOAD + 1)
    if len(raw) > MAX_UPLOAD:
        raise HTTPException(status_code=413, detail=f"the image is larger than {MAX_UPLOAD // 2**20} MB")
    if not raw:
        raise HTTPException(status_code=400, detail="the upload is empty")
    return raw
