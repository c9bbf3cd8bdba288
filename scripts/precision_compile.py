"""Does bf16 autocast or torch.compile pay for the tutorial net here? Times the training step alone.

    python scripts/precision_compile.py [--batch-size 256] [--steps 200] [--reps 5]

One process, the tutorial network (784 → 128 → 10, dropout 0.2), fused AdamW, random inputs of
MNIST's shape on the device the template would use. Repetitions interleave the variants, so each
round shares the machine's speed of the moment (this VM's drifts): eager float32 (the template's
step), eager under bf16 autocast (what ``trainer.precision=bf16-mixed`` does around forward and
loss), and ``torch.compile`` of the network (its compile time is reported apart). Prints a
Markdown table of the median milliseconds per step and each variant's ratio to eager float32.
"""

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn


def make(device: torch.device) -> tuple[nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, 10)).to(device)
    return net, torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.004, fused=True)


def steps(net: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, n: int, bf16: bool) -> float:
    """Seconds for ``n`` training steps."""
    sync = torch.cuda.synchronize if x.is_cuda else (lambda: None)
    sync()
    start = time.perf_counter()
    for _ in range(n):
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(net(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    sync()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    x = torch.randn(args.batch_size, 28, 28, device=device)
    y = torch.randint(0, 10, (args.batch_size,), device=device)

    variants = {"eager float32": make(device), "eager bf16 autocast": make(device)}
    net, optimizer = make(device)
    start = time.perf_counter()
    compiled = torch.compile(net)
    steps(compiled, optimizer, x, y, 3, bf16=False)  # the first steps compile
    compile_s = time.perf_counter() - start
    variants["torch.compile float32"] = (compiled, optimizer)

    times: dict[str, list[float]] = {name: [] for name in variants}
    for name, (net, optimizer) in variants.items():  # warm-up
        steps(net, optimizer, x, y, 20, bf16="bf16" in name)
    for _ in range(args.reps):
        for name, (net, optimizer) in variants.items():
            times[name].append(steps(net, optimizer, x, y, args.steps, bf16="bf16" in name) / args.steps * 1000)

    base = statistics.median(times["eager float32"])
    where = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"batch {args.batch_size}, {args.steps} steps x {args.reps} interleaved repetitions, {where}, torch {torch.__version__}")
    print("\n| step | ms per step (median) | / eager float32 |\n|---|---:|---:|")
    for name, values in times.items():
        print(f"| {name} | {statistics.median(values):.3f} | {statistics.median(values) / base:.2f} |")
    print(f"\ntorch.compile's first steps (compiling): {compile_s:.1f} s")


if __name__ == "__main__":
    main()
