"""The JSON API over a real uvicorn server on loopback, with the shipped model."""

from __future__ import annotations

import base64
import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import torch
from PIL import Image

import ferlab
from ferlab.app import FaceAnalyzer
from ferlab.app.demo import ASTRONAUT
from ferlab.app.predict import predict_images
from ferlab.faces import DEFAULT_DETECTOR
from ferlab.weights import DEFAULT_MODEL

if TYPE_CHECKING:
    from ferlab.serve.settings import ServeSettings

httpx = pytest.importorskip("httpx", reason='the REST service tests need the test extra: pip install -e ".[test]"')
pytest.importorskip("fastapi", reason='the REST service needs its extra: pip install -e ".[serve]"')


def analyze(base: str, data: bytes, name: str = "astronaut.png", **params: str) -> httpx.Response:
    """POST one file to /v1/analyze."""
    return httpx.post(f"{base}/v1/analyze", files={"file": (name, data)}, params=params, timeout=60)


def test_astronaut_is_one_happy_face_with_an_annotated_image(live_server: str, astronaut_png: bytes) -> None:
    response = analyze(live_server, astronaut_png, annotated="true")
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["image"] == {"width": 512, "height": 512}
    assert result["model"] == DEFAULT_MODEL and result["version"] == ferlab.__version__
    [face] = result["faces"]
    assert face["label"] == "happy"
    assert max(face["probabilities"], key=face["probabilities"].get) == "happy"
    assert sum(face["probabilities"].values()) == pytest.approx(1, abs=1e-3)
    x1, y1, x2, y2 = face["box"]
    assert 0 <= x1 < x2 <= 512 and 0 <= y1 < y2 <= 512
    annotated = Image.open(io.BytesIO(base64.b64decode(result["annotated_png"])))
    assert annotated.format == "PNG" and annotated.size == (512, 512)


def test_jpeg_without_annotation(live_server: str, astronaut_jpeg: bytes) -> None:
    result = analyze(live_server, astronaut_jpeg, "photo.jpg").json()
    assert [face["label"] for face in result["faces"]] == ["happy"]
    assert result["annotated_png"] is None


@pytest.mark.parametrize("pillow_format", ["AVIF", "TGA", "ICO", "PPM", "TIFF"])
def test_formats_predict_reads_are_accepted(live_server: str, pillow_format: str) -> None:
    """The same formats as `ferlab predict` (the bad-input probe found AVIF, TGA and ICO refused)."""
    photo, buffer = Image.open(ASTRONAUT).convert("RGB"), io.BytesIO()
    photo.save(buffer, format=pillow_format, **({"sizes": [(256, 256)]} if pillow_format == "ICO" else {}))
    response = analyze(live_server, buffer.getvalue(), f"photo.{pillow_format.lower()}")
    assert response.status_code == 200, response.text
    assert [face["label"] for face in response.json()["faces"]] == ["happy"]


def test_eps_is_never_handed_to_ghostscript(live_server: str, tmp_path: Path) -> None:
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
    response = analyze(live_server, eps, "figure.eps")
    assert response.status_code == 422 and "not a readable image" in response.json()["error"]
    (tmp_path / "figure.eps").write_bytes(eps)  # predict: the same refusal, not a Ghostscript failure
    (problem,) = predict_images(tmp_path / "figure.eps", FaceAnalyzer(), None).problems
    assert "not a readable image" in problem.reason


def test_concurrent_requests_all_succeed(live_server: str, astronaut_png: bytes) -> None:
    with ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(lambda _: analyze(live_server, astronaut_png), range(4)))
    assert [r.status_code for r in responses] == [200] * 4
    assert all(r.json()["faces"][0]["label"] == "happy" for r in responses)


def test_batch_reports_each_file(live_server: str, astronaut_png: bytes) -> None:
    files = [("files", ("astronaut.png", astronaut_png)), ("files", ("../../etc/notes.txt", b"not an image"))]
    response = httpx.post(f"{live_server}/v1/analyze/batch", files=files, timeout=60)
    assert response.status_code == 200, response.text
    good, bad = response.json()["results"]
    assert (good["filename"], good["status"], good["error"]) == ("astronaut.png", 200, None)
    assert [face["label"] for face in good["analysis"]["faces"]] == ["happy"]
    assert bad["status"] == 422 and "not a readable image" in bad["error"] and bad["analysis"] is None


def test_batch_over_the_file_limit_is_refused(live_server: str, live_settings: ServeSettings) -> None:
    limit = live_settings.max_batch_files
    files = [("files", (f"{i}.png", b"x")) for i in range(limit + 1)]
    response = httpx.post(f"{live_server}/v1/analyze/batch", files=files, timeout=60)
    assert response.status_code == 422 and f"at most {limit} items" in response.json()["error"]


def test_models_lists_the_loaded_and_shipped_models(live_server: str) -> None:
    info = httpx.get(f"{live_server}/v1/models").json()
    assert info["loaded"] == DEFAULT_MODEL and info["loaded"] in info["shipped"]
    assert "happy" in info["classes"] and len(info["classes"]) == 8
    assert info["detector"] == DEFAULT_DETECTOR and info["version"] == ferlab.__version__
    assert info["backend"] == ("torch" if torch.cuda.is_available() else "onnx")  # --backend auto
    assert info["tta"] == "none"


def test_health_page_and_docs(live_server: str) -> None:
    assert httpx.get(f"{live_server}/healthz").json() == {"status": "ok"}
    page = httpx.get(f"{live_server}/")
    assert page.status_code == 200 and "ferlab" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert httpx.get(f"{live_server}/static/app.js").status_code == 200
    assert httpx.get(f"{live_server}/docs").status_code == 200
    paths = httpx.get(f"{live_server}/openapi.json").json()["paths"]
    assert set(paths) == {"/healthz", "/v1/models", "/v1/analyze", "/v1/analyze/batch"}


def test_unknown_path_is_a_json_404(live_server: str) -> None:
    response = httpx.get(f"{live_server}/nothing-here")
    assert response.status_code == 404 and response.json() == {"error": "Not Found"}


def test_onnx_backend_serves_the_same_answer(astronaut_png: bytes, live_server: str) -> None:
    from fastapi.testclient import TestClient

    from ferlab.serve.app import create_app
    from ferlab.serve.settings import ServeSettings

    torch_face = analyze(live_server, astronaut_png).json()["faces"][0]
    with TestClient(create_app(ServeSettings(backend="onnx"))) as client:
        response = client.post("/v1/analyze", files={"file": ("astronaut.png", astronaut_png)})
    assert response.status_code == 200, response.text
    [face] = response.json()["faces"]
    assert face["label"] == torch_face["label"] == "happy"
    for name, p in torch_face["probabilities"].items():
        assert face["probabilities"][name] == pytest.approx(p, abs=1e-4)


def test_tta_setting_is_served_and_reported(astronaut_png: bytes) -> None:
    from fastapi.testclient import TestClient

    from ferlab.app.demo import ASTRONAUT
    from ferlab.serve.app import create_app
    from ferlab.serve.settings import ServeSettings

    with TestClient(create_app(ServeSettings(tta="flip"))) as client:
        assert client.get("/v1/models").json()["tta"] == "flip"
        response = client.post("/v1/analyze", files={"file": ("astronaut.png", astronaut_png)})
    assert response.status_code == 200, response.text
    [face] = response.json()["faces"]
    [expected] = ferlab.analyze(ASTRONAUT, tta="flip")
    for name, p in expected["probabilities"].items():
        assert face["probabilities"][name] == pytest.approx(p, abs=1e-4)
