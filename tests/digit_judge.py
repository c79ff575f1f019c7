"""An independent digit classifier for tests that judge what a model draws.

Not the bundled reference classifier (`vae_core.load_classifier`): a judge trained in the test
session itself, so a model is never graded by a network from the same project run. Two 3x3 conv
layers and a linear read-out, 2 epochs of Adam on a one-cycle schedule: about 30 s on one CPU
thread over the 60,000 MNIST training digits, 98.8% on the test set (seed 0).
"""

from __future__ import annotations

import torch
from torch import nn


def judge_net() -> nn.Module:
    """Conv 16 (3x3) -> pool -> conv 32 (3x3) -> pool -> linear: about 0.8 M multiply-adds."""
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(32 * 7 * 7, 10))


def train_judge(x: torch.Tensor, y: torch.Tensor, epochs: int = 2) -> nn.Module:
    """Adam with a one-cycle schedule (peak lr 3e-3), batch 64, seeded; images x [N,1,28,28]
    in [0, 1], labels y [N]."""
    torch.manual_seed(0)
    net = judge_net()
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    steps = -(-len(x) // 64) * epochs
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 3e-3, total_steps=steps)
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=g).split(64):
            loss = nn.functional.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    return net.eval()


@torch.no_grad()
def read_digits(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The judge's digit [N] for each image of x [N,1,28,28], 1,000 at a time."""
    return torch.cat([net(b).argmax(1) for b in x.split(1000)])
