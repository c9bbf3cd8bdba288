"""An attacker's pass over what lit-dnn reads from others: checkpoints, tables, run folders, trackers.

    python scripts/attack.py [--out scripts/attack.md] [--only fuzz|sizes|values|text|tables|folders]

Each case writes one hostile input and runs on it what a victim runs, in this process: the
functions behind ``python train.py ckpt_path=...`` (a resume), ``eval.py``, ``predict.py`` and
``export.py``, or ``train.py`` on a table. A case passes when the command is refused with one
sentence (lit-dnn's ``UserError``) and left nothing behind (no canary file from a payload, no
output folder), or, for text that is only shown, when it ran and what it showed and wrote is
safe. The table it prints (and writes with ``--out``) is the one in docs; exit 1 if any case
fails.

The checkpoint fuzz puts a payload at every key of a real checkpoint's model, data and run
settings: a ``_target_`` dict that would create a canary file, the same inside a list and a
list of lists, an OmegaConf interpolation, and Hydra's own ``_args_``/``_recursive_`` keys.
"""

import argparse
import contextlib
import io
import os
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PROJECT_ROOT", str(ROOT))

from lit_dnn.errors import UserError  # noqa: E402

COMMANDS = ("resume", "eval", "predict", "export")
ABOUT = """Each case writes one hostile input and runs on it, in one process, what a victim runs: a resume
(`python train.py ckpt_path=...`), `eval.py`, `predict.py`, `export.py`, or `train.py` on a table.
*Refused* means one sentence (lit-dnn's `UserError`, exit code 2 on the command line), no file a
payload would write, no output folder; *ran, output safe* means the input may run (class names
are only shown) and nothing a terminal or spreadsheet would act on reached the screen or a CSV.
`tests/test_security.py` runs these cases; the table below is the script's own output.
"""
SECRET = "LIT_DNN_ATTACK_SECRET"


def compose_cfg(name: str, overrides: list[str], out: Path) -> DictConfig:
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(name, overrides=[f"paths.log_dir={out.parent}/logs", *overrides])
    with open_dict(cfg):
        cfg.paths.output_dir = str(out)
    return cfg


QUIET = ["callbacks.progress_bar=null", "+trainer.enable_progress_bar=false", "logger=csv"]


def train_run(overrides: list[str], out: Path) -> Path:
    """A real run's last checkpoint (the victim's own, before the attacker edits a copy)."""
    from lit_dnn.train import train

    with contextlib.redirect_stdout(io.StringIO()):
        train(compose_cfg("train", [*QUIET, *overrides], out))
    return out / "checkpoints" / "last.ckpt"


def run_command(command: str, ckpt: Path, out: Path, extra: list[str] = ()) -> str:
    """Run one command on ``ckpt`` writing under ``out``; returns what it printed."""
    if command == "resume":
        from lit_dnn.train import train

        # data=binary: the victim's command line (in this process every key counts as set by it)
        cfg = compose_cfg("train", [*QUIET, "data=binary", f"ckpt_path={ckpt}", *extra], out)
        task = train
    elif command == "eval":
        from lit_dnn.evaluate import evaluate

        cfg = compose_cfg("eval", [f"ckpt_path={ckpt}", "logger=csv", "+trainer.enable_progress_bar=false", *extra], out)
        task = evaluate
    elif command == "predict":
        from lit_dnn.predict import predict

        cfg = compose_cfg("predict", [f"ckpt_path={ckpt}", f"input={out.parent.parent / 'input.npy'}", *extra], out)
        task = predict
    else:
        from lit_dnn.export import export

        cfg = compose_cfg("export", [f"ckpt_path={ckpt}", "format=torchscript", *extra], out)
        task = export
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        task(cfg)
    return printed.getvalue()


class Case:
    """One hostile input and the command run on it; ``check`` (for inputs that may run) says what must hold."""

    def __init__(self, group: str, name: str, command: str, make: Callable[[Path], Any], check: Callable[..., str] | None = None):
        self.group, self.name, self.command, self.make, self.check = group, name, command, make, check


# --- checkpoint payloads
def target_payload(canary: Path) -> dict[str, Any]:
    return {"_target_": "builtins.open", "_args_": [str(canary), "w"]}


PAYLOADS: dict[str, Callable[[Path], Any]] = {
    "_target_ dict": target_payload,
    "_target_ in list": lambda canary: [target_payload(canary)],
    "_target_ in list of lists": lambda canary: [[1, {"x": [target_payload(canary)]}]],
    "interpolation": lambda canary: "${oc.env:" + SECRET + ",0.001}",
}


def leaf_keys(value: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if isinstance(value, dict):
        return [key for k, v in value.items() if k != "_target_" for key in leaf_keys(v, (*prefix, k))]
    return [prefix]


def dict_nodes(value: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if not isinstance(value, dict):
        return []
    return [prefix, *(node for k, v in value.items() for node in dict_nodes(v, (*prefix, k)))]


def edited(source: Path, edit: Callable[[dict[str, Any]], None], into: Path) -> Path:
    checkpoint = torch.load(source, weights_only=True)
    edit(checkpoint)
    torch.save(checkpoint, into)
    return into


def set_at(hp: dict[str, Any], key: tuple[str, ...], value: Any) -> None:
    node = hp
    for part in key[:-1]:
        node = node[part]
    node[key[-1]] = value


def fuzz_cases(hp: dict[str, Any]) -> list[Case]:
    """A payload at every leaf of model, data and the run settings, and Hydra keys in every dict, for every command."""
    cases = []
    keys = [k for section in ("model", "data") for k in leaf_keys(hp[section], (section,))]
    keys += [(k,) for k in ("seed", "max_epochs", "limit_train_batches", "max_steps", "input_shape", "task")]
    for key in keys:
        for payload, make in PAYLOADS.items():
            for command in COMMANDS:
                cases.append(
                    Case(
                        "fuzz",
                        f"{'.'.join(key)} = {payload}",
                        command,
                        lambda c, key=key, make=make: lambda ck: set_at(ck["hyper_parameters"], key, make(c)),
                    )
                )
    for node in dict_nodes(hp["model"], ("model",)) + dict_nodes(hp["data"], ("data",)):
        for extra in ("_args_", "_recursive_", "_target_"):
            value = {"_args_": ["x"], "_recursive_": False, "_target_": "builtins.exec"}[extra]
            for command in COMMANDS:
                cases.append(
                    Case(
                        "fuzz",
                        f"{'.'.join(node)}.{extra} = {value!r}",
                        command,
                        lambda c, node=node, extra=extra, value=value: lambda ck: set_at(ck["hyper_parameters"], (*node, extra), value),
                    )
                )
    return cases


def hp_edit(fn: Callable[[dict[str, Any]], None]) -> Callable[[Path], Callable[[dict[str, Any]], None]]:
    return lambda canary: lambda ck: fn(ck["hyper_parameters"])


def ckpt_edit(fn: Callable[[dict[str, Any]], None]) -> Callable[[Path], Callable[[dict[str, Any]], None]]:
    return lambda canary: fn


def first_weight(ck: dict[str, Any]) -> torch.Tensor:
    return next(v for k, v in ck["state_dict"].items() if k.endswith("weight"))


SIZE_CASES = {
    "hidden_dims=[10**9]": hp_edit(lambda hp: hp["model"]["net"].update(hidden_dims=[10**9])),
    "hidden_dims of 100,000 layers": hp_edit(lambda hp: hp["model"]["net"].update(hidden_dims=[1] * 100_000)),
    "input_shape=[10**6, 10**6]": hp_edit(lambda hp: hp.update(input_shape=[10**6, 10**6])),
    "input_shape=[10**5] (layer shapes differ)": hp_edit(lambda hp: hp.update(input_shape=[10**5])),
    "200,000 class names": hp_edit(lambda hp: hp.update(class_names=[str(i) for i in range(200_000)])),
    "20,000 class names": hp_edit(lambda hp: hp.update(class_names=[str(i) for i in range(20_000)])),
    "a 10 MB class name": hp_edit(lambda hp: hp["class_names"].__setitem__(0, "x" * 10_000_000)),
    "a 10 MB model setting": hp_edit(lambda hp: hp["model"].update(loss="x" * 10_000_000)),
    "data.n_samples=10**10": hp_edit(lambda hp: hp["data"].update(n_samples=10**10)),
    "data.n_features=10**9": hp_edit(lambda hp: hp["data"].update(n_features=10**9)),
}
VALUE_CASES = {
    "NaN weight": ckpt_edit(lambda ck: first_weight(ck).view(-1).__setitem__(0, float("nan"))),
    "infinite weight": ckpt_edit(lambda ck: first_weight(ck).view(-1).__setitem__(0, float("inf"))),
    "normalization.std=0": hp_edit(lambda hp: hp["normalization"].update(std=0.0)),
    "normalization.std=1e-45 (denormal)": hp_edit(lambda hp: hp["normalization"].update(std=1e-45)),
    "normalization.scale=0": hp_edit(lambda hp: hp["normalization"].update(scale=0.0)),
    "normalization.scale=-1": hp_edit(lambda hp: hp["normalization"].update(scale=-1.0)),
    "normalization.mean=1e308": hp_edit(lambda hp: hp["normalization"].update(mean=1e308)),
    "seed='abc'": hp_edit(lambda hp: hp.update(seed="abc")),
    "max_epochs=True": hp_edit(lambda hp: hp.update(max_epochs=True)),
    "task='evil'": hp_edit(lambda hp: hp.update(task="evil")),
    "class_names=[1, 2]": hp_edit(lambda hp: hp.update(class_names=[1, 2])),
    "input_shape=[-20]": hp_edit(lambda hp: hp.update(input_shape=[-20])),
    "state_dict holds a string": ckpt_edit(lambda ck: ck["state_dict"].update({"net.layers.1.weight": "x"})),
    "fit_metrics with a _target_": ckpt_edit(lambda ck: ck.update(fit_metrics={"val/acc": {"_target_": "builtins.exec"}})),
    "fit_metrics key ${...}": ckpt_edit(lambda ck: ck.update(fit_metrics={"${oc.env:HOME}": 1.0})),
    "data is a list": hp_edit(lambda hp: hp.update(data=[1, 2])),
}
ESCAPES = "\x1b]0;owned\x07\x1b[2J\x1b[31mred\u202e"
TEXT_CASES = {
    "class names with terminal escapes": hp_edit(lambda hp: hp.update(class_names=[ESCAPES + "0", "1\x1b[1A"])),
    "class names as spreadsheet formulas": hp_edit(lambda hp: hp.update(class_names=['=HYPERLINK("http://x")', "@SUM(A1)"])),
    "class names as rich markup": hp_edit(lambda hp: hp.update(class_names=["[blink]0[/blink]", "[link=http://x]1"])),
}


def text_is_safe(printed: str, out: Path) -> str:
    """What a terminal and a spreadsheet would act on: escape characters, and cells beginning like formulas."""
    problems = [f"printed {c!r}" for c in ("\x1b", "\x07", "\u202e") if c in printed]
    if "blink" in printed and "[blink]" not in printed:
        problems.append("rich markup was applied")
    csv_file = out / "predictions.csv"
    if csv_file.is_file():
        import csv

        with open(csv_file, newline="") as f:
            cells = [cell for row in csv.reader(f) for cell in row]
        problems += [f"CSV cell {c[:20]!r}" for c in cells if c[:1] in ("=", "+", "@", "\t", "\r") or any(ch in c for ch in "\x1b\x07")]
    return "; ".join(problems)


def run_case(case: Case, source: Path, work: Path, index: int) -> tuple[str, str]:
    """(outcome, detail): outcome is refused | ran-safe | FAILED."""
    folder = work / f"case{index}"
    folder.mkdir()
    canary = folder / "CANARY"
    ckpt = edited(source, case.make(canary), folder / "attack.ckpt")
    out = folder / "out"
    os.environ[SECRET] = "0.002"
    try:
        printed = run_command(case.command, ckpt, out)
    except UserError as err:
        message = str(err)
        if canary.exists():
            return "FAILED", f"payload ran ({canary.name} written); then: {message[:100]}"
        if "\n" in message.strip():
            return "FAILED", f"a message of several lines: {message[:100]!r}"
        if out.exists() and any(out.iterdir()):
            return "FAILED", f"refused, but wrote {sorted(p.name for p in out.iterdir())}"
        return "refused", message
    except Exception as err:  # noqa: BLE001 - a traceback is what this pass looks for
        return "FAILED", f"{type(err).__name__}: {str(err)[:160]} ({traceback.extract_tb(err.__traceback__)[-1].name})"
    if canary.exists():
        return "FAILED", "payload ran"
    if case.check is None:
        return "FAILED", "ran without refusing"
    problem = case.check(printed, out)
    return ("FAILED", problem) if problem else ("ran-safe", "shown and written escaped")


# --- tables and folders: inputs other than checkpoints
def table_cases(work: Path) -> list[tuple[str, Callable[[], Any]]]:
    from lit_dnn.train import train

    def train_table(name: str, lines: list[str], extra: list[str] = ()) -> Callable[[], Any]:
        def run() -> Any:
            path = work / f"{name}.csv"
            path.write_text("\n".join(lines) + "\n")
            cfg = compose_cfg(
                "train", [*QUIET, "data=csv", f"data.path={path}", "data.target=label", "trainer.max_epochs=1", *extra], work / name
            )
            with contextlib.redirect_stdout(io.StringIO()):
                return train(cfg)

        return run

    rows = [f"{i % 7},{i % 3},{'ab'[i % 2]}" for i in range(60)]
    many_categories = [f"{i},c{i},{'ab'[i % 2]}" for i in range(1_500)]
    many_classes = [f"{i},{i % 3},k{i}" for i in range(2_000)]
    return [
        ("a row with extra fields", train_table("extra", ["a,b,label", *rows[:10], "1,2,a,EXTRA,MORE", *rows[10:]])),
        ("a row with 1,000,000 extra fields", train_table("wide", ["a,b,label", *rows[:5], "1,2,a" + ",9" * 1_000_000, *rows[5:]])),
        ("every row one field too many", train_table("shifted", ["a,b,label", *(r + ",z" for r in rows)])),
        ("the target listed as a feature", train_table("leak", ["a,b,label", *rows], ["data.features=[a,label]"])),
        ("1,500 distinct texts in a feature", train_table("cats", ["a,b,label", *many_categories])),
        ("2,000 classes in the target", train_table("classes", ["a,b,label", *many_classes])),
        (
            "a 1,000-character class name",
            train_table("longname", ["a,b,label", *(f"{i},{i % 3},{'y' * 1000 if i % 2 else 'n'}" for i in range(60))]),
        ),
    ]


def folder_cases(work: Path, source: Path) -> list[tuple[str, Callable[[], Any]]]:
    from lit_dnn.run_dir import claim_run_folder

    def second_process() -> Any:
        folder = work / "shared_run"
        hold = f"from lit_dnn.run_dir import claim_run_folder as c; c({str(folder)!r}); print('held', flush=True); input()"
        holder = subprocess.Popen(
            [sys.executable, "-c", hold],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            holder.stdout.readline()  # the other command now writes in the folder
            return claim_run_folder(folder)
        finally:
            holder.kill()
            holder.wait()

    def unreachable_mlflow() -> Any:
        from omegaconf import OmegaConf

        from lit_dnn.config_checks import check_loggers

        with socket.socket() as s:  # a port nobody listens on
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        start = time.perf_counter()
        try:
            check_loggers(
                OmegaConf.create(
                    {"mlflow": {"_target_": "lightning.pytorch.loggers.MLFlowLogger", "tracking_uri": f"http://127.0.0.1:{port}"}}
                )
            )
        finally:
            if time.perf_counter() - start > 10:
                raise RuntimeError("took over 10 s")

    return [
        ("a second run into a claimed folder", second_process),
        ("logger=mlflow at an address nobody answers", unreachable_mlflow),
        (
            "binary checkpoint resumed without data=",
            lambda: run_command("resume", source, work / "resume_binary", ["trainer.max_epochs=2"]),
        ),
    ]


def run_plain(name: str, fn: Callable[[], Any], expect_refusal: bool = True) -> tuple[str, str]:
    try:
        fn()
    except UserError as err:
        return ("refused", str(err)) if expect_refusal else ("FAILED", str(err))
    except Exception as err:  # noqa: BLE001
        return "FAILED", f"{type(err).__name__}: {str(err)[:160]}"
    return ("FAILED", "ran without refusing") if expect_refusal else ("ran-safe", "ran to the end")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, help="write the table as Markdown here")
    parser.add_argument("--only", choices=("fuzz", "sizes", "values", "text", "tables", "folders"))
    args = parser.parse_args()
    import logging

    logging.disable(logging.WARNING)
    import warnings

    warnings.filterwarnings("ignore")
    rows: list[tuple[str, str, str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        print("Training the victim's checkpoint (data=binary, 2 epochs) ...", flush=True)
        source = train_run(["data=binary", "trainer.max_epochs=2"], work / "victim")
        np.save(work / "input.npy", np.zeros((3, 20), np.float32))
        hp = torch.load(source, weights_only=True)["hyper_parameters"]
        groups: dict[str, list[Case]] = {
            "fuzz": fuzz_cases(hp),
            "sizes": [Case("sizes", n, c, m) for n, m in SIZE_CASES.items() for c in COMMANDS],
            "values": [Case("values", n, c, m) for n, m in VALUE_CASES.items() for c in COMMANDS],
            "text": [Case("text", n, "predict", m, text_is_safe) for n, m in TEXT_CASES.items()]
            + [Case("text", n, "eval", m, text_is_safe) for n, m in TEXT_CASES.items()],
        }
        index = 0
        for group, cases in groups.items():
            if args.only not in (None, group):
                continue
            print(f"{group}: {len(cases)} cases", flush=True)
            for case in cases:
                index += 1
                outcome, detail = run_case(case, source, work, index)
                rows.append((group, case.name, case.command, outcome, detail))
                if outcome == "FAILED":
                    print(f"  FAILED {case.name} [{case.command}]: {detail}", flush=True)
        if args.only in (None, "tables"):
            for name, fn in table_cases(work):
                rows.append(("tables", name, "train", *run_plain(name, fn)))
        if args.only in (None, "folders"):
            for name, fn in folder_cases(work, source):
                rows.append(("folders", name, "train", *run_plain(name, fn, expect_refusal="resumed" not in name)))
    failed = [r for r in rows if r[3] == "FAILED"]
    summary = [
        "| group | cases | refused in one sentence | ran, output safe | failed |",
        "|---|---:|---:|---:|---:|",
    ]
    for group in dict.fromkeys(r[0] for r in rows):
        mine = [r for r in rows if r[0] == group]
        counts = [sum(r[3] == o for r in mine) for o in ("refused", "ran-safe", "FAILED")]
        summary.append(f"| {group} | {len(mine)} | {counts[0]} | {counts[1]} | {counts[2]} |")
    summary.append(
        f"| all | {len(rows)} | {sum(r[3] == 'refused' for r in rows)} | {sum(r[3] == 'ran-safe' for r in rows)} | {len(failed)} |"
    )
    examples = ["", "| group | case | command | outcome | what the user reads |", "|---|---|---|---|---|"]
    seen: set[tuple[str, str]] = set()
    for group, name, command, outcome, detail in rows:  # one command per case name, failures all
        if (group, name) in seen and outcome != "FAILED":
            continue
        seen.add((group, name))
        if group == "fuzz" and outcome != "FAILED" and len([s for s in seen if s[0] == "fuzz"]) > 12:
            continue
        shown = detail.replace(tmp, "<tmp>").replace("|", "\\|").replace("\n", " ")[:220]
        examples.append(f"| {group} | {name[:60].replace('|', '/')} | {command} | {outcome} | {shown} |")
    text = "\n".join(summary + examples) + "\n"
    print(text)
    if args.out:
        args.out.write_text(f"# Attacker's pass (`python scripts/attack.py`)\n\n{ABOUT}\n{text}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
