"""serve.py: the HTTP API (FastAPI's TestClient), the ONNX path, a table model, the command line,
and the page itself in a real browser (headless Chromium) drawing a digit."""

import io
import json
import os
import re
import shutil
import signal
import socket
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from conftest import compose_cfg, run_script
from lit_dnn.data.image import load_split
from lit_dnn.errors import CheckpointError
from lit_dnn.export import export
from lit_dnn.serve import MAX_REQUEST_BYTES, create_app, from_checkpoint, from_onnx, png_bytes
from lit_dnn.train import train

JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def digits(tiny_run: tuple[Path, dict], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A model of the tests' tiny digits, its checkpoint and its ONNX export."""
    metrics = tiny_run[1]
    cfg = compose_cfg([f"ckpt_path={metrics['best_model_path']}", "format=onnx"], tmp_path_factory.mktemp("serve"), "export")
    export(cfg)
    return Path(metrics["best_model_path"]), Path(cfg.paths.output_dir) / "model.onnx"


def test_the_api_predicts_uploads_and_answers_bad_requests_in_one_sentence(digits: tuple[Path, Path], tiny_data: Path) -> None:
    client = TestClient(create_app(from_checkpoint(digits[0])))
    images, labels = load_split(tiny_data, "mnist", "test")
    page = client.get("/")
    assert page.status_code == 200 and '<canvas id="pad"' in page.text and 'fetch("/predict"' in page.text
    assert client.get("/info").json()["class_names"] == [str(d) for d in range(10)]

    files = [("files", (f"digit{i}.png", png_bytes(images[i].numpy()), "image/png")) for i in range(20)]
    answer = client.post("/predict", files=files).json()["predictions"]
    assert [p["input"] for p in answer] == [f"digit{i}.png" for i in range(20)]
    assert sum(p["class"] == str(int(labels[i])) for i, p in enumerate(answer)) >= 17
    assert all(abs(sum(p["probabilities"].values()) - 1) < 1e-4 and p["probability"] == max(p["probabilities"].values()) for p in answer)
    array = io.BytesIO()
    np.save(array, images[:20].numpy())
    from_npy = client.post("/predict", files=[("files", ("batch.npy", array.getvalue()))]).json()["predictions"]
    assert [p["class"] for p in from_npy] == [p["class"] for p in answer] and from_npy[3]["input"] == "batch.npy[3]"
    as_json = client.post("/predict", json={"inputs": images[:2].tolist()}).json()["predictions"]
    assert [p["class"] for p in as_json] == [p["class"] for p in answer[:2]]

    bad = [
        (dict(files=[("files", ("x.png", b"not an image"))]), 400, "cannot read x.png as an image (UnidentifiedImageError)"),
        (dict(files=[("files", ("../../etc/x.npy", b"\x93NUMPY junk"))]), 400, "cannot read x.npy as a .npy array"),
        (dict(json={"inputs": [[1, 2]]}), 400, '"inputs" has shape (1, 2) but the model expects (N, 28, 28).'),
        (dict(json={"rows": [{"a": 1}]}), 400, "this model takes images, not table rows"),
        (dict(content=json.dumps({"inputs": [[[float("nan")] * 28] * 28]}), headers=JSON), 400, "has 784 NaN or infinite values"),
        (dict(content=b"{not json", headers=JSON), 400, "the body is not valid JSON"),
        (dict(content=b"x=1", headers={"content-type": "application/x-www-form-urlencoded"}), 415, "is not read here"),
        (dict(files=[("files", ("big.npy", b"0" * (MAX_REQUEST_BYTES + 1)))]), 413, "over 20,971,520; send fewer or smaller files."),
    ]
    for request, status, message in bad:
        response = client.post("/predict", **request)
        error = response.json()["error"]
        assert response.status_code == status and message in error and "\n" not in error and "/tmp" not in error, (request, error)
    assert client.post("/predict", files=files[:1]).json()["predictions"][0]["input"] == "digit0.png"  # still serving


def test_the_exported_onnx_model_serves_the_same_predictions_without_torch_in_the_path(
    digits: tuple[Path, Path], tiny_data: Path, tmp_path: Path
) -> None:
    images, _ = load_split(tiny_data, "mnist", "test")
    torch_served, onnx_served = from_checkpoint(digits[0]), from_onnx(digits[1])
    assert onnx_served.engine == "onnxruntime" and onnx_served.input_shape == (28, 28)
    raw = images[:50].numpy()
    assert np.abs(onnx_served.outputs(raw) - torch_served.outputs(raw)).max() < 1e-5
    client = TestClient(create_app(onnx_served))
    answer = client.post("/predict", files=[("files", ("d.png", png_bytes(raw[0]), "image/png"))]).json()["predictions"][0]
    assert answer["class"] == str(int(torch_served.outputs(raw[:1]).argmax()))
    meta = json.loads(digits[1].with_name("model.json").read_text())
    for garble in (lambda m: m.pop("normalization"), lambda m: m.update(class_names=[1, 2]), lambda m: m.update(input_shape=7)):
        folder = tmp_path / str(len(list(tmp_path.iterdir())))
        folder.mkdir()
        shutil.copy(digits[1], folder / "model.onnx")
        edited = json.loads(json.dumps(meta))
        garble(edited)
        (folder / "model.json").write_text(json.dumps(edited))
        with pytest.raises(CheckpointError, match=r"model.json lacks or garbles what export.py writes \(.*\); export the checkpoint again"):
            from_onnx(folder / "model.onnx")


def test_a_table_model_serves_json_rows_and_csv(tmp_path: Path) -> None:
    metrics = train(compose_cfg(["data=iris", "logger=csv", "callbacks.progress_bar=null", "trainer.max_epochs=15"], tmp_path / "t"))
    served = from_checkpoint(metrics["best_model_path"])
    client = TestClient(create_app(served))
    info = client.get("/info").json()
    assert info["kind"] == "table" and info["features"] == [
        "sepal length (cm)",
        "sepal width (cm)",
        "petal length (cm)",
        "petal width (cm)",
    ]
    setosa = dict(zip(info["features"], [5.1, 3.5, 1.4, 0.2]))
    virginica = dict(zip(info["features"], [6.9, 3.1, 5.4, 2.1]))
    rows = client.post("/predict", json={"rows": [setosa, virginica]}).json()["predictions"]
    assert [r["class"] for r in rows] == ["setosa", "virginica"]
    csv = ",".join(info["features"]) + "\n5.1,3.5,1.4,0.2\n"
    assert client.post("/predict", content=csv, headers={"content-type": "text/csv"}).json()["predictions"][0]["class"] == "setosa"
    cfg = compose_cfg([f"ckpt_path={metrics['best_model_path']}", "format=onnx"], tmp_path / "x", "export")
    export(cfg)  # the exported file takes raw columns: served without torch, the same classes
    onnx = TestClient(create_app(from_onnx(Path(cfg.paths.output_dir) / "model.onnx")))
    assert onnx.get("/info").json()["features"] == info["features"]
    assert [r["class"] for r in onnx.post("/predict", json={"rows": [setosa, virginica]}).json()["predictions"]] == ["setosa", "virginica"]
    missing = client.post("/predict", json={"rows": [{"sepal length (cm)": 5.1}]})
    assert (
        missing.status_code == 400
        and "does not have the columns the model was trained on (missing sepal width (cm)" in missing.json()["error"]
    )


def test_serve_py_refuses_bad_values_in_one_sentence(tmp_path: Path) -> None:
    for args, message in (
        (["ckpt_path=nothing.ckpt"], "Error: ckpt_path=nothing.ckpt does not exist"),
        (["ckpt_path=nothing.ckpt", "port=99999"], "Error: port=99999 must be a whole number from 0 to 65535, e.g. 8000."),
        (["ckpt_path=m.onnx"], "Error: m.onnx has no model.json beside it; serve the folder export.py wrote, or the .ckpt."),
    ):
        result = run_script(
            "serve.py", [*args, f"paths.log_dir={tmp_path}"], fresh=args == ["ckpt_path=nothing.ckpt"]
        )  # one in a new interpreter
        assert result.returncode == 2 and result.stderr.strip().splitlines()[-1].startswith(message), result.stderr[-1500:]


def test_serve_py_on_a_port_in_use_is_one_sentence(tiny_run: tuple[Path, dict], tmp_path: Path) -> None:
    """A second server on the same port (uvicorn alone logs the bind error and exits 3)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_script("serve.py", [f"ckpt_path={tiny_run[1]['best_model_path']}", f"port={port}", f"paths.log_dir={tmp_path}"])
    said = f"Error: port={port} is in use on 127.0.0.1 (another server?); stop it or pass another port (port=0: any free one)."
    assert result.returncode == 2 and result.stderr.strip().splitlines()[-1] == said, result.stderr[-1500:]


def chromium() -> tuple[str, str]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not (browser and driver):  # .ci/run installs both where it may (Debian's chromium, chromium-driver)
        pytest.skip("needs Chromium and chromedriver: apt-get install chromium chromium-driver")
    return browser, driver


@pytest.mark.slow
def test_a_person_draws_a_digit_on_the_page_and_reads_the_prediction(tmp_path: Path) -> None:
    """`python serve.py ckpt_path=... port=0` as a user starts it (a new interpreter: serve.py's
    real-CLI smoke), its page in headless Chromium driven as a person would: the mouse draws
    strokes on the canvas, clicks Predict, and the page shows the class (a model of the real
    MNIST, two epochs). Ctrl+C then stops the server with exit code 0."""
    from conftest import real_data, start_script

    browser, driver_path = chromium()
    metrics = train(compose_cfg([f"data.data_dir={real_data()}", "trainer.max_epochs=2", "logger=csv", "test=false"], tmp_path / "t"))
    args = [f"ckpt_path={metrics['best_model_path']}", "port=0", "log_level=warning", f"paths.log_dir={tmp_path}"]
    server = start_script("serve.py", args, fresh=True)
    try:
        serving = server.stdout.readline()  # printed once its socket listens, with the port the system chose
        seen = draw_digits(re.search(r"http://\S+/", serving)[0], browser, driver_path, tmp_path) if serving else {}
    finally:
        server.send_signal(signal.SIGINT)  # Ctrl+C
        stopped = server.communicate(30)
    assert serving.startswith("Serving ") and serving.rstrip().endswith("- Ctrl+C stops it."), stopped.stderr[-2000:]
    assert seen == {digit: digit for digit in DRAWINGS}, seen
    assert stopped.returncode == 0, stopped.stderr[-2000:]


def draw_digits(url: str, browser: str, driver_path: str, tmp_path: Path) -> dict[str, str]:
    """Each of DRAWINGS drawn with the mouse on the page at url, and the class the page then shows."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=900,900"):
        options.add_argument(flag)
    page = webdriver.Chrome(options=options, service=Service(driver_path))
    try:
        page.get(url)
        WebDriverWait(page, 30).until(lambda p: p.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true")
        pad = page.find_element(By.ID, "pad")
        seen = {}
        for digit, strokes in DRAWINGS.items():
            page.find_element(By.ID, "clear").click()
            for stroke in strokes:  # offsets from the canvas' centre, in its 280x280 pixels
                actions = ActionChains(page).move_to_element_with_offset(pad, *stroke[0]).click_and_hold()
                for (x0, y0), (x1, y1) in zip(stroke, stroke[1:]):
                    actions = actions.move_by_offset(x1 - x0, y1 - y0)
                actions.release().perform()
            page.find_element(By.ID, "predict-drawing").click()
            WebDriverWait(page, 30).until(lambda p: p.find_element(By.ID, "predicted").text not in ("", "…"))
            seen[digit] = page.find_element(By.ID, "predicted").text
            bars = page.find_elements(By.CSS_SELECTOR, "#bars .bar")
            assert len(bars) == 10 and bars[0].text.startswith(seen[digit])  # the probabilities, highest first
        # LIT_DNN_SCREENSHOT=docs/screenshots/serve.png keeps the page as the docs show it
        page.save_screenshot(os.environ.get("LIT_DNN_SCREENSHOT", str(tmp_path / "serve.png")))
    finally:
        page.quit()
    return seen


# strokes a person might draw, as points relative to the canvas' centre
DRAWINGS = {
    "1": [[(0, -90), (0, -30), (0, 30), (0, 90)]],
    "0": [[(0, -90), (50, -60), (60, 0), (50, 60), (0, 90), (-50, 60), (-60, 0), (-50, -60), (0, -90)]],
    "2": [[(-50, -50), (0, -90), (50, -50), (-50, 90), (60, 90)]],
    "4": [[(30, 90), (30, -90), (-60, 40), (60, 40)]],
    "7": [[(-60, -80), (0, -80), (60, -80), (30, -10), (0, 90)]],
}
