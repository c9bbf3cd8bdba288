"""Latency and throughput of ``python serve.py`` against calling the ONNX model directly.

    python scripts/serve_latency.py --ckpt logs/train/runs/<run>/checkpoints/last.ckpt [--requests 300]

Exports the checkpoint to ONNX (in a temporary folder), then, for the checkpoint served with torch
and the ONNX file served with onnxruntime (each a real ``python serve.py`` process on this
machine, asked over HTTP by one client): one image a request (a PNG upload), p50 and p99 of
``--requests`` requests after 20 warm-up ones, and one request of ``--batch`` images as one
``.npy`` upload (rows/s, median of 5). Beside them, the same ONNX model called in this process
(``session.run`` on prepared inputs): the floor the server's HTTP, decoding and JSON add to.
Prints a Markdown table (docs/predict-export.md holds the latest).
"""

import argparse
import datetime
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PROJECT_ROOT", str(ROOT))

from lit_dnn.inputs import normalize  # noqa: E402
from lit_dnn.serve import png_bytes  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model: Path, logs: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [sys.executable, "serve.py", f"ckpt_path={model}", f"port={port}", "log_level=warning", f"paths.log_dir={logs}"]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"serve.py ended: {proc.stderr.read()[-2000:]}")
        try:
            httpx.get(f"{url}/info", timeout=1)
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("serve.py did not answer within 120 s")


def percentiles(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered) * 1000, ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))] * 1000


def over_http(url: str, images: np.ndarray, requests: int, batch: int) -> tuple[float, float, float]:
    """p50 and p99 ms of one-PNG requests, and rows/s of one .npy request of ``batch`` images."""
    with httpx.Client(timeout=60) as client:
        pngs = [png_bytes(images[i % len(images)]) for i in range(requests + 20)]
        times = []
        for i, png in enumerate(pngs):
            start = time.perf_counter()
            response = client.post(f"{url}/predict", files=[("files", ("digit.png", png, "image/png"))])
            elapsed = time.perf_counter() - start
            response.raise_for_status()
            if i >= 20:
                times.append(elapsed)
        buffer = io.BytesIO()
        np.save(buffer, images[:batch])
        batch_times = []
        for _ in range(5):
            start = time.perf_counter()
            client.post(f"{url}/predict", files=[("files", ("batch.npy", buffer.getvalue()))]).raise_for_status()
            batch_times.append(time.perf_counter() - start)
    return (*percentiles(times), batch / statistics.median(batch_times))


def direct(onnx: Path, images: np.ndarray, requests: int, batch: int) -> tuple[float, float, float]:
    """The ONNX model called in this process on prepared inputs: the floor."""
    import onnxruntime as ort

    meta = json.loads(onnx.with_name("model.json").read_text())
    inputs = normalize(images[:batch], meta["normalization"]).numpy()
    session = ort.InferenceSession(str(onnx), providers=["CPUExecutionProvider"])
    times = []
    for i in range(requests + 20):
        one = inputs[i % len(inputs)][None]
        start = time.perf_counter()
        session.run(["probabilities"], {"input": one})
        if i >= 20:
            times.append(time.perf_counter() - start)
    batch_times = []
    for _ in range(5):
        start = time.perf_counter()
        session.run(["probabilities"], {"input": inputs})
        batch_times.append(time.perf_counter() - start)
    return (*percentiles(times), batch / statistics.median(batch_times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", type=Path, required=True, help="a checkpoint of an MNIST-shaped model (28x28 images)")
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("DATA_DIR", ROOT / "data")))
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    from lit_dnn.data.image import load_split

    images = load_split(args.data_dir, "mnist", "test")[0][: max(args.batch, 100)].numpy()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "export"
        subprocess.run(
            [sys.executable, "export.py", f"ckpt_path={args.ckpt}", "format=onnx", f"paths.output_dir={out}"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        rows = {"ONNX `session.run` in-process (the floor)": direct(out / "model.onnx", images, args.requests, args.batch)}
        for name, model in (("`serve.py` a .onnx (onnxruntime)", out / "model.onnx"), ("`serve.py` a .ckpt (torch)", args.ckpt)):
            proc, url = start_server(model, Path(tmp) / "logs")
            try:
                rows[name] = over_http(url, images, args.requests, args.batch)
            finally:
                proc.terminate()
                proc.wait(30)
    print(f"Measured {datetime.date.today()}, {os.cpu_count()} cores; {args.requests} one-image requests, a batch of {args.batch}.\n")
    print("| path | one image p50 ms | one image p99 ms | batch rows/s |")
    print("|---|---:|---:|---:|")
    for name, (p50, p99, rate) in rows.items():
        print(f"| {name} | {p50:.2f} | {p99:.2f} | {rate:,.0f} |")


if __name__ == "__main__":
    main()
