"""The default recipe of ``python train.py`` as a plain PyTorch script: the benchmark's yardstick
for a whole run (process start to test accuracy).

    DATA_DIR=../shared/datasets python scripts/plain_pytorch.py [--epochs 8] [--batch-size 256]

MNIST, the same split (5,000 validation images drawn with seed 42) and scaling ((x/255 - 0.1307) /
0.3081), Flatten → Dense(128, relu) → Dropout(0.2) → Dense(10), fused AdamW at 1e-3 (weight decay 0.004) with a one-cycle
schedule to 5x, batch 256, 8 epochs, a validation pass per epoch; prints the test accuracy of the
final weights as JSON. No checkpoints, logging, figures or early stopping: that is the template's work.
"""

import argparse
import json
import os
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn


def read_idx(path: Path) -> torch.Tensor:
    raw = path.read_bytes()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return torch.frombuffer(bytearray(raw[4 + 4 * dims :]), dtype=torch.uint8).reshape(shape)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=os.environ.get("DATA_DIR", "data"))
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--val-size", type=int, default=5000)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="where data and model live")
    args = parser.parse_args()
    start = time.perf_counter()
    torch.manual_seed(args.seed)
    raw = Path(args.data_dir) / "MNIST" / "raw"
    x, y = read_idx(raw / "train-images-idx3-ubyte"), read_idx(raw / "train-labels-idx1-ubyte").long()
    test_x, test_y = read_idx(raw / "t10k-images-idx3-ubyte"), read_idx(raw / "t10k-labels-idx1-ubyte").long()
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(args.seed))
    val_idx, train_idx = order[: args.val_size], order[args.val_size :]

    def scale(images: torch.Tensor) -> torch.Tensor:
        return (images.float() / 255 - 0.1307) / 0.3081

    device = torch.device(args.device)  # the data moves there once, as the template's datamodules do
    x, y, test_x, test_y = x.to(device), y.to(device), test_x.to(device), test_y.to(device)
    train_x, train_y, val_x, val_y = x[train_idx], y[train_idx], scale(x[val_idx]), y[val_idx]
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, 10)).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.004, fused=True)
    steps_per_epoch = -(-len(train_x) // args.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=5e-3, total_steps=steps_per_epoch * args.epochs)
    for epoch in range(args.epochs):
        model.train()
        for idx in torch.randperm(len(train_x), device=device).split(args.batch_size):
            loss = F.cross_entropy(model(scale(train_x[idx])), train_y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
        model.eval()
        with torch.no_grad():
            val_acc = (model(val_x).argmax(1) == val_y).float().mean().item()
        print(f"Epoch {epoch + 1}/{args.epochs} - val_acc {val_acc:.4f}", flush=True)
    with torch.no_grad():
        test_acc = (model(scale(test_x)).argmax(1) == test_y).float().mean().item()
    print(json.dumps({"test_acc": test_acc, "seconds_in_script": round(time.perf_counter() - start, 3)}))


if __name__ == "__main__":
    main()
