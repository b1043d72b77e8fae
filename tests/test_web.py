"""The web explorer's API: every endpoint, and the bad inputs it must refuse with a clear 4xx."""
import base64
import io
import json

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from conftest import tiny_config
from gankit.training import fit, start_run
from gankit.web import create_app


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """An unconditional and a conditional tiny run (digits, 8x8), trained for a few steps."""
    out = {}
    for name, model in (("plain", {}), ("cond", {"conditional": True})):
        run = start_run(tiny_config(tmp_path_factory.mktemp(name), model=model))
        fit(run)
        out[name] = run.dir
    return out


@pytest.fixture(scope="module")
def client(runs):
    return TestClient(create_app(runs["plain"]))


def _png(data_url: str) -> np.ndarray:
    assert data_url.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))))


def _latents(client, seeds):
    return client.post("/api/sample", json={"seeds": seeds}).json()["latents"]


def test_page_and_static_files_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and "gankit explorer" in page.text and "/static/app.js" in page.text
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/style.css").headers["content-type"].startswith("text/css")
    assert client.get("/report.html").status_code == 404  # no report for this run yet


def test_info(client):
    info = client.get("/api/info").json()
    assert info["z_dim"] > 0 and info["shape"] == [1, 8, 8] and info["num_classes"] == 0
    assert info["report"] is False and info["limits"]["batch"] == 64
    assert info["psi"] == 1.0  # the run's own truncation, which the page's slider starts at


def test_sample_is_deterministic_by_seed(client):
    a = client.post("/api/sample", json={"seeds": [1, 2, 3]}).json()
    b = client.post("/api/sample", json={"seeds": [3]}).json()
    assert len(a["images"]) == 3 and _png(a["images"][0]).shape == (8, 8)
    assert a["images"][2] == b["images"][0] and a["latents"][2] == b["latents"][0]
    assert a["images"][0] != a["images"][1]


def test_grid_png(client):
    res = client.get("/api/grid.png", params={"seed": 5, "n": 9, "psi": 0.7})
    assert res.status_code == 200 and res.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(res.content)).size[0] > 8 * 3


def test_interpolate_between_two_samples(client):
    a, b = _latents(client, [1, 2])
    out = client.post("/api/interpolate", json={"a": a, "b": b, "steps": 5, "mode": "lerp"}).json()
    assert len(out["images"]) == 5
    np.testing.assert_allclose(out["latents"][0], a, atol=1e-6)
    np.testing.assert_allclose(out["latents"][-1], b, atol=1e-6)


def test_arithmetic_and_edit(client):
    plus, minus, base = _latents(client, [1, 2]), _latents(client, [3, 4]), _latents(client, [5])
    out = client.post("/api/arithmetic", json={"groups": {"plus": {"latents": plus}, "minus": {"latents": minus}},
                                              "expression": "plus - minus"}).json()
    expected = np.mean(plus, 0) - np.mean(minus, 0)
    np.testing.assert_allclose(out["latents"][0], expected, atol=1e-5)
    assert set(out["groups"]) == {"plus", "minus"}
    edit = client.post("/api/edit", json={"target": {"latents": base}, "positive": {"latents": plus},
                                          "negative": {"latents": minus}, "alphas": [0, 1.5]}).json()
    assert edit["rows"] == 1 and edit["columns"] == [0, 1.5] and len(edit["images"]) == 2
    original = client.post("/api/sample", json={"seeds": [5]}).json()["images"][0]
    assert edit["images"][0] == original  # alpha 0 leaves the sample as it was


def test_invert_an_upload(client):
    buf = io.BytesIO()
    Image.fromarray(np.full((20, 20), 180, dtype=np.uint8)).save(buf, format="PNG")
    res = client.post("/api/invert", files={"file": ("x.png", buf.getvalue(), "image/png")}, data={"steps": "5"})
    assert res.status_code == 200, res.text
    out = res.json()
    assert _png(out["target"]).shape == (8, 8) and 0 <= out["mse"] < 4 and len(out["latents"][0]) > 0


def test_conditional_run_takes_class_names(runs):
    client = TestClient(create_app(runs["cond"]))
    info = client.get("/api/info").json()
    assert info["num_classes"] == 10
    name = info["class_names"][3]
    a = client.post("/api/sample", json={"seeds": [1], "label": name}).json()
    b = client.post("/api/sample", json={"seeds": [1], "label": 3}).json()
    assert a["images"] == b["images"]
    res = client.post("/api/sample", json={"seeds": [1], "label": "zebra"})
    assert res.status_code == 400 and "zebra" in res.json()["detail"]


@pytest.mark.parametrize("path, body", [
    ("/api/sample", {"seeds": []}),
    ("/api/sample", {"seeds": list(range(65))}),
    ("/api/sample", {"seeds": [-1]}),
    ("/api/sample", {"seeds": ["a"]}),
    ("/api/sample", {"seeds": [1], "psi": 5}),
    ("/api/sample", {"seeds": [1], "extra": 1}),
    ("/api/interpolate", {"a": [0.0], "b": [0.0], "steps": 100}),
    ("/api/edit", {"target": {"latents": [[0.0]]}, "positive": {"latents": [[0.0]]},
                   "negative": {"latents": [[0.0]]}, "alphas": [1e9]}),
    ("/api/arithmetic", {"groups": {"../etc": {"latents": [[0.0]]}}, "expression": "x"}),
])
def test_bad_requests_are_refused_with_422(client, path, body):
    res = client.post(path, json=body)
    assert res.status_code == 422, res.text


def test_non_finite_and_wrong_length_latents_are_refused(client):
    z_dim = client.get("/api/info").json()["z_dim"]
    raw = '{"a": [NaN], "b": [1.0]}'
    assert client.post("/api/interpolate", content=raw, headers={"content-type": "application/json"}).status_code == 422
    short = client.post("/api/interpolate", json={"a": [0.0] * (z_dim - 1), "b": [0.0] * (z_dim - 1)})
    assert short.status_code == 400 and f"{z_dim} numbers" in short.json()["detail"]
    inf = json.dumps({"a": [1e400] * z_dim, "b": [0.0] * z_dim})  # overflows to inf when parsed
    assert client.post("/api/interpolate", content=inf, headers={"content-type": "application/json"}).status_code in (
        400, 422)
    bad_expr = client.post("/api/arithmetic", json={"groups": {"a": {"latents": [[0.0] * z_dim]}},
                                                   "expression": "a - __import__('os')"})
    assert bad_expr.status_code == 400


def test_bad_uploads(client, monkeypatch):
    assert client.post("/api/invert", files={"file": ("x.png", b"", "image/png")}).status_code == 400
    junk = client.post("/api/invert", files={"file": ("x.png", b"not an image", "image/png")})
    assert junk.status_code == 400 and "cannot read image" in junk.json()["detail"]
    from gankit.web import server

    monkeypatch.setattr(server, "MAX_UPLOAD", 100)
    big = client.post("/api/invert", files={"file": ("x.png", b"\0" * 101, "image/png")})
    assert big.status_code == 413
    assert client.post("/api/invert", files={"file": ("x.png", b"x", "image/png")},
                       data={"steps": "100000"}).status_code == 422


def test_no_path_reaches_the_file_system(client):
    for path in ("/static/../../checkpoint.pt", "/static/%2e%2e/%2e%2e/checkpoint.pt", "/checkpoint.pt",
                 "/report/../checkpoint.pt"):
        res = client.get(path)
        assert res.status_code == 404 and b"gankit-checkpoint" not in res.content


def test_ragged_and_overflowing_latents_are_4xx_with_the_reason(client):
    z_dim = client.get("/api/info").json()["z_dim"]
    ragged = client.post("/api/interpolate", json={"a": [0.0] * z_dim, "b": [0.0] * (z_dim + 1)})
    assert ragged.status_code == 400 and f"{z_dim} numbers" in ragged.json()["detail"]
    groups = {"a": {"latents": [[0.0] * z_dim, [0.0] * (z_dim - 1)]}}
    res = client.post("/api/arithmetic", json={"groups": groups, "expression": "a"})
    assert res.status_code == 400 and f"{z_dim} numbers" in res.json()["detail"]
    one = {"a": {"latents": [[1.0] * z_dim]}}
    for expression, reason in (("1e39*a", "cannot read the expression"), ("9" * 190 + "*a", "too large"),
                               ("999*a + 999*a + 999*a", None)):
        res = client.post("/api/arithmetic", json={"groups": one, "expression": expression})
        assert res.status_code == (200 if reason is None else 400), res.text
        if reason:
            assert reason in res.json()["detail"]
        else:
            assert None not in res.json()["latents"][0]


def test_oversized_bodies_are_refused_before_they_are_read(client):
    from gankit.web import server

    big = b"{" + b" " * (server.MAX_BODY + 10) + b"}"
    res = client.post("/api/sample", content=big, headers={"content-type": "application/json"})
    assert res.status_code == 413 and "larger than" in res.json()["detail"]
    res = client.post("/api/invert", files={"file": ("x.png", b"\0" * (server.MAX_BODY + 1), "image/png")})
    assert res.status_code == 413
    ok = client.post("/api/sample", content=(b'{"seeds": [1]}' for _ in range(1)),
                     headers={"content-type": "application/json"})
    assert ok.status_code == 200  # a small chunked body still reaches the endpoint whole


def test_a_chunked_body_is_read_only_up_to_the_limit():
    import asyncio

    from gankit.web.server import BodyLimit

    received, sent, reached = [], [], []

    async def endless():  # a client streaming 100-byte chunks without end
        received.append(1)
        return {"type": "http.request", "body": b"x" * 100, "more_body": True}

    async def send(message):
        sent.append(message)

    async def app(scope, receive, send):
        reached.append(1)

    scope = {"type": "http", "method": "POST", "headers": [(b"transfer-encoding", b"chunked")]}
    asyncio.run(BodyLimit(app, limit=1000)(scope, endless, send))
    assert sent[0]["status"] == 413 and not reached and len(received) == 11  # 1,100 bytes read, no more


@pytest.fixture(scope="module")
def pair_client(tmp_path_factory):
    """A tiny drawing -> digit run (pix2pix on the digits' drawings, 16 px)."""
    cfg = tiny_config(tmp_path_factory.mktemp("pairs"), data={"name": "edges:digits", "resolution": 16},
                      model={"name": "pix2pix", "g_width": 8, "d_width": 8, "z_dim": 4, "g_depth": None,
                             "d_depth": None}, train={"steps": 2})
    run = start_run(cfg)
    fit(run)
    return TestClient(create_app(run.dir))


def _upload_png(array: np.ndarray) -> dict:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return {"file": ("drawing.png", buf.getvalue(), "image/png")}


def test_a_pair_run_translates_an_uploaded_drawing(pair_client):
    info = pair_client.get("/api/info").json()
    assert info["source_shape"] == [1, 16, 16] and info["shape"] == [1, 16, 16]
    drawing = np.full((120, 90, 3), 255, dtype=np.uint8)
    drawing[20:100, 40:44] = 0  # a stroke, in colour and at another size: converted to what the run takes
    out = pair_client.post("/api/translate", files=_upload_png(drawing), data={"seed": "3"}).json()
    assert _png(out["source"]).shape[:2] == (16, 16) and _png(out["image"]).shape[:2] == (16, 16)
    again = pair_client.post("/api/translate", files=_upload_png(drawing), data={"seed": "3"}).json()
    assert again["image"] == out["image"]  # a seed names one output
    bad = pair_client.post("/api/translate", files={"file": ("x.png", b"not an image", "image/png")})
    assert bad.status_code == 400 and "could not be read" in bad.json()["detail"]
    assert pair_client.post("/api/sample", json={"seeds": [0]}).status_code == 400  # sampling: not this run's


def test_invert_takes_a_drawing(client):
    drawing = np.full((8, 8), 255, dtype=np.uint8)
    drawing[2:6, 3] = 0
    out = client.post("/api/invert", files=_upload_png(drawing), data={"steps": "5", "sketch": "true"}).json()
    assert len(out["latents"]) == 1 and 0 <= out["mse"] < 1  # the sketch loss, an edge map's squared distance
