"""Screenshots of a real TensorBoard: scalars, images and HParams views, as PNG files.

    python scripts/tensorboard_screenshots.py --logdir logs/train/runs/<run> --out docs/screenshots

Starts ``tensorboard`` on localhost, opens each view in headless Chromium (Debian's
``chromium`` package) with a fresh profile, saves one PNG per view, and stops the server.
"""

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

VIEWS = {
    "scalars": "#scalars&tagFilter=%5E(train%7Cval%7Ctest)%2F(acc%7Closs)%24&_smoothingWeight=0",
    "images": "#images",
    "hparams": "#hparams",
}
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"TensorBoard did not answer at {url} within {timeout:.0f} s")


def screenshot(chromium: str, url: str, out: Path, size: str, wait_ms: int) -> None:
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                chromium,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={size}",
                f"--virtual-time-budget={wait_ms}",
                f"--screenshot={out}",
                url,
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--logdir", type=Path, required=True, help="a run folder, a sweep folder, or logs/")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--size", default="1400,1000", help="window width,height in pixels")
    parser.add_argument("--wait-ms", type=int, default=20000, help="virtual time for the page to load its data")
    parser.add_argument("--views", nargs="+", choices=list(VIEWS), default=list(VIEWS))
    parser.add_argument("--scalars-filter", help="the scalars view's tag regex, e.g. '^val/(acc|loss)$'")
    parser.add_argument("--prefix", default="tensorboard", help="file names: <prefix>_<view>.png")
    args = parser.parse_args()
    views = {name: VIEWS[name] for name in args.views}
    if args.scalars_filter and "scalars" in views:
        views["scalars"] = f"#scalars&tagFilter={urllib.parse.quote(args.scalars_filter, safe='')}&_smoothingWeight=0"
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("Error: chromium is not installed; install Debian's package (apt-get install chromium).")
    if not args.logdir.is_dir():
        sys.exit(f"Error: --logdir {args.logdir} is not a folder; pass a run folder such as logs/train/runs/<timestamp>.")
    args.out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tensorboard.main",
            "--logdir",
            str(args.logdir),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--reload_interval",
            "0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}/"
        wait_for(base + "data/runs")
        for name, fragment in views.items():
            path = args.out / f"{args.prefix}_{name}.png"
            screenshot(chromium, base + fragment, path, args.size, args.wait_ms)
            print(f"saved {path}")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
