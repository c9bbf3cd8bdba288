"""``python serve.py ckpt_path=<.ckpt | model.onnx>``: a web page and an HTTP API for a trained model.

``GET /`` is one page: draw a digit, upload an image, or fill a table row, and see the prediction
with its probabilities. ``POST /predict`` takes images or ``.npy`` arrays (multipart files), a CSV
file, or JSON (``{"rows": [{column: value}]}`` for a table, ``{"inputs": [[...]]}`` for arrays) and
answers ``{"predictions": [...]}``; a request it cannot use is a 4xx with ``{"error": sentence}``,
and the server goes on serving. A checkpoint is served with torch (read like every other
command, through ``read_checkpoint``), an exported ``model.onnx`` with onnxruntime and the
``model.json`` beside it. Inputs are read by the same code as ``predict.py`` (``lit_dnn.inputs``).
"""

import errno
import io
import json
import socket
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lit_dnn.data.normalization import Normalization
from lit_dnn.errors import CheckpointError, ConfigError, DataError, UserError
from lit_dnn.inputs import check_values, load_inputs, load_table_inputs, normalize, table_inputs

MAX_REQUEST_BYTES = 20 * 2**20  # one request's files together
MAX_SAMPLES = 10_000  # one request's inputs
IO_KEYS = ("input_name", "output_name")  # model.json: the ONNX graph's input and output names


@dataclass
class Served:
    """What the app serves: the model's inputs and outputs, and ``outputs(raw) -> probabilities | values``."""

    source: str  # the file served
    engine: str  # torch | onnxruntime
    input_shape: tuple[int, ...]
    output_names: list[str]  # class names, or regression target names
    regression: bool
    table: dict[str, Any] | None  # features, categories, targets of a table model
    outputs: Callable[[np.ndarray], np.ndarray]  # raw inputs (pixels 0..255, encoded columns) -> outputs

    @property
    def kind(self) -> str:
        return "table" if self.table is not None else "image" if len(self.input_shape) in (2, 3) else "array"

    def info(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "engine": self.engine,
            "kind": self.kind,
            "input_shape": list(self.input_shape),
            ("target_names" if self.regression else "class_names"): self.output_names,
            **({"features": self.table["features"], "categories": self.table["categories"]} if self.table else {}),
        }


def from_checkpoint(path: str | Path) -> Served:
    """A checkpoint, served with torch: normalised as training did, the model's own ``predict_step``."""
    import torch

    from lit_dnn.checkpoint import load_model

    model, record = load_model(path)

    def outputs(raw: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model.predict_step(normalize(raw, record.normalization), 0).numpy()

    return Served(str(path), "torch", record.input_shape, record.output_names, record.regression, record.table, outputs)


def from_onnx(path: str | Path) -> Served:
    """An exported ``model.onnx`` and its ``model.json`` (export.py writes both): onnxruntime, no torch."""
    path = Path(path)
    meta_path = path.with_name("model.json")
    if not meta_path.is_file():
        raise CheckpointError(f"{path} has no model.json beside it; serve the folder export.py wrote, or the .ckpt.")
    try:
        meta = json.loads(meta_path.read_text())
        import onnxruntime as ort

        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except (ValueError, OSError) as err:
        raise CheckpointError(f"cannot read {path} and its model.json ({str(err)[:120]}); export the checkpoint again.") from err
    except Exception as err:  # noqa: BLE001 - onnxruntime's own errors: a file it cannot load
        raise CheckpointError(f"onnxruntime cannot load {path} ({str(err).splitlines()[0][:120]}); export the checkpoint again.") from err
    try:  # the file is written by export.py, but it is a file someone may send: every key read is checked here
        regression = "target_names" in meta
        names = meta["target_names"] if regression else meta["class_names"]
        shape = tuple(meta["input_shape"][1:])
        table = {k: meta[k] for k in ("features", "categories", "targets")} if "input_columns" in meta else None
        inside = bool(meta["normalization"].get("inside the model"))
        if not inside:
            Normalization.from_dict(meta["normalization"], shape)
        if not (isinstance(names, list) and all(isinstance(n, str) for n in names) and all(isinstance(meta[k], str) for k in IO_KEYS)):
            raise TypeError("names that are not text")
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise CheckpointError(f"{meta_path} lacks or garbles what export.py writes ({err!r:.80}); export the checkpoint again.") from err

    def outputs(raw: np.ndarray) -> np.ndarray:
        x = raw.astype(np.float32) if inside else normalize(raw, meta["normalization"]).numpy()
        return session.run([meta["output_name"]], {meta["input_name"]: x})[0]

    return Served(str(path), "onnxruntime", shape, names, regression, table, outputs)


def load_served(path: str | Path) -> Served:
    """A ``.onnx`` file with onnxruntime, anything else as a checkpoint."""
    return from_onnx(path) if str(path).endswith(".onnx") else from_checkpoint(path)


def safe_name(name: str | None, index: int) -> str:
    """An upload's file name without folders (``../x.png`` is ``x.png``), or ``upload<i>``."""
    base = Path(str(name or "")).name.strip()
    return base if base and base not in (".", "..") else f"upload{index}"


def inputs_of_files(served: Served, files: list[tuple[str, bytes]]) -> tuple[list[str], np.ndarray]:
    """Uploaded files (images, ``.npy`` arrays, or a table's CSV) as names and raw inputs, read by
    predict.py's own code from a private temporary folder."""
    names, arrays = [], []
    with tempfile.TemporaryDirectory(prefix="lit-dnn-serve-") as tmp:
        for i, (name, data) in enumerate(files):
            path = Path(tmp) / f"{i}-{safe_name(name, i)}"
            path.write_bytes(data)
            shown = safe_name(name, i)
            try:
                if served.table is not None:
                    file_names, raw = load_table_inputs(path, served.table)
                else:
                    file_names, raw = load_inputs(path, served.input_shape)
            except DataError as err:
                raise DataError(str(err).replace(str(path), shown)) from err
            names += [f"{shown}: {n}" if served.table is not None else n.replace(path.name, shown) for n in file_names]
            arrays.append(raw)
    return names, np.concatenate(arrays)


def inputs_of_json(served: Served, body: Any) -> tuple[list[str], np.ndarray]:
    """``{"rows": [{column: value}, ...]}`` for a table, ``{"inputs": [sample, ...]}`` for any model."""
    if not isinstance(body, dict) or not ({"rows", "inputs"} & set(body)):
        raise DataError('the JSON body must be {"rows": [{column: value}, ...]} for a table or {"inputs": [[...], ...]}.')
    if "rows" in body:
        if served.table is None:
            raise DataError(f'this model takes {served.kind}s, not table rows; send {{"inputs": [...]}} or upload files.')
        rows = body["rows"]
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise DataError('"rows" must be a list of objects, one {column: value} per row.')
        import pandas as pd

        return table_inputs(pd.DataFrame(rows), served.table, "the JSON rows")
    try:
        array = np.asarray(body["inputs"], dtype=np.float32)
    except (ValueError, TypeError) as err:
        raise DataError(f'"inputs" must be a list of samples of numbers ({str(err)[:80]}).') from err
    check_values(array, Path("the JSON inputs"))
    if array.ndim < 2 or tuple(array.shape[1:]) != served.input_shape:
        raise DataError(f'"inputs" has shape {tuple(array.shape)} but the model expects (N, {", ".join(map(str, served.input_shape))}).')
    return [f"inputs[{i}]" for i in range(len(array))], array


def answer(served: Served, names: list[str], raw: np.ndarray) -> dict[str, Any]:
    """The predictions of named raw inputs: each class's probability, or each target's value."""
    if len(names) > MAX_SAMPLES:
        raise DataError(f"{len(names):,} inputs in one request, over the server's limit of {MAX_SAMPLES:,}; send fewer at a time.")
    out = served.outputs(raw)
    if not np.isfinite(out).all():
        raise DataError("the model's outputs are NaN or infinite for these inputs, whose values lie far outside the training data's.")
    if served.regression:
        predictions = [{"input": n, "values": dict(zip(served.output_names, map(float, row)))} for n, row in zip(names, out)]
    else:
        predictions = [
            {
                "input": n,
                "class": served.output_names[int(row.argmax())],
                "probability": float(row.max()),
                "probabilities": dict(zip(served.output_names, map(float, row))),
            }
            for n, row in zip(names, out)
        ]
    return {"predictions": predictions}


def create_app(served: Served) -> Any:
    """The FastAPI app: ``GET /`` (the page), ``GET /info``, ``POST /predict``."""
    from fastapi import FastAPI, Request
    from fastapi.responses import HTMLResponse, JSONResponse

    app = FastAPI(title="lit-dnn", summary=f"predictions of {Path(served.source).name}")
    page = (Path(__file__).with_name("serve_page.html")).read_text()

    @app.exception_handler(UserError)
    async def one_sentence(request: Request, err: UserError) -> JSONResponse:
        return JSONResponse({"error": str(err)}, status_code=400)

    @app.get("/", response_class=HTMLResponse)
    async def index() -> str:
        return page

    @app.get("/info")
    async def info() -> dict[str, Any]:
        return served.info()

    @app.post("/predict")
    async def predict(request: Request) -> JSONResponse:
        size = int(request.headers.get("content-length") or 0)
        if size > MAX_REQUEST_BYTES:
            return JSONResponse({"error": f"the request has {size:,} bytes, over {MAX_REQUEST_BYTES:,}; send fewer or smaller files."}, 413)
        kind = request.headers.get("content-type", "")
        if kind.startswith("multipart/form-data"):
            form = await request.form()
            files = [(f.filename, await f.read()) for _, f in form.multi_items() if hasattr(f, "read")]
            if not files:
                raise DataError("the form holds no file; send images, .npy arrays or a CSV as multipart files.")
            names, raw = inputs_of_files(served, files)
        elif kind.startswith("application/json"):
            try:
                body = json.loads(await request.body())
            except ValueError as err:
                raise DataError(f"the body is not valid JSON ({str(err)[:80]}).") from err
            names, raw = inputs_of_json(served, body)
        elif kind.startswith("text/csv") and served.table is not None:
            names, raw = inputs_of_files(served, [("rows.csv", await request.body())])
        else:
            return JSONResponse(
                {"error": f"content type {kind or 'none'!r} is not read here; send multipart files, JSON, or text/csv for a table."}, 415
            )
        return JSONResponse(answer(served, names, raw))

    return app


def serve(cfg: Any) -> None:
    """Load the model, then serve it with uvicorn until Ctrl+C."""
    import uvicorn

    served = load_served(cfg.ckpt_path)
    listening = listen(str(cfg.host), int(cfg.port))
    port = listening.getsockname()[1]  # port=0: the one the system chose
    article = "an" if served.kind[0] in "aeiou" else "a"
    what = f"{served.source} ({served.engine}, {article} {served.kind} model)"
    print(f"Serving {what} on http://{cfg.host}:{port}/ - Ctrl+C stops it.", flush=True)  # at once, should stdout be a pipe
    try:
        uvicorn.Server(uvicorn.Config(create_app(served), log_level=cfg.log_level)).run(sockets=[listening])
    except KeyboardInterrupt:  # Ctrl+C, re-raised once uvicorn has shut down: the way to stop (uvicorn.run ignores it too)
        pass


def listen(host: str, port: int) -> socket.socket:
    """The server's socket, bound here so that a port in use is one sentence (uvicorn logs it and exits 3)."""
    listening = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn's own: a restart need not wait out TIME_WAIT
    try:
        listening.bind((host, port))
        listening.listen()
        return listening
    except OSError as err:
        listening.close()
        if err.errno == errno.EADDRINUSE:
            message = f"port={port} is in use on {host} (another server?); stop it or pass another port (port=0: any free one)."
        else:
            message = f"cannot listen on host={host} port={port} ({err.strerror or err}); use host=127.0.0.1 or an address of this machine."
        raise ConfigError(message) from None


def png_bytes(pixels: np.ndarray) -> bytes:
    """A uint8 image as PNG bytes (tests, the latency script)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()
