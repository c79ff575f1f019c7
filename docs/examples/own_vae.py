"""A VAE written and trained in your own code, then explored in latent-explorer.

The model below is plain PyTorch (the shape of pytorch/examples' VAE, with a 2-D latent so
its plane can be drawn); nothing of latent-explorer's is imported to build, train or export
it (it reads the MNIST files bundled in data/mnist). At the end it is exported with
`torch.onnx` into a folder that the app (sidebar: upload its .zip), the CLI
(`--checkpoint FOLDER`) and `vae_core.explore` take: decoder.onnx, encoder.onnx and
model.json (docs/onnx.md, "Bring your own model").

    python docs/examples/own_vae.py --epochs 5 --out my-vae
    python -m vae_core sample --checkpoint my-vae --n 64 --out my-vae-samples.png
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

MNIST = Path(__file__).resolve().parents[2] / "data" / "mnist"


def mnist_train(folder: Path = MNIST, limit: int = 0) -> torch.Tensor:
    """The 60,000 training digits as float32 [N,1,28,28] in [0, 1] (an IDX file: 16 bytes of
    header, then the pixels)."""
    raw = gzip.open(folder / "train-images-idx3-ubyte.gz").read()
    x = torch.from_numpy(np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 1, 28, 28).copy())
    return (x[:limit] if limit else x).float() / 255


class VAE(nn.Module):
    """x [N,1,28,28] in [0, 1] -> (mu, logvar) [N,d]; z [N,d] -> logits [N,784]."""

    def __init__(self, latent: int = 2, hidden: int = 400) -> None:
        super().__init__()
        self.enc = nn.Sequential(nn.Flatten(), nn.Linear(784, hidden), nn.ReLU())
        self.mu, self.logvar = nn.Linear(hidden, latent), nn.Linear(hidden, latent)
        self.dec = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, 784))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.enc(x)
        return self.mu(h), self.logvar(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The negative ELBO of the batch, summed over images (Kingma & Welling 2014)."""
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        rec = F.binary_cross_entropy_with_logits(self.dec(z), x.flatten(1), reduction="sum")
        return rec - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())


class Encoder(nn.Module):
    """The graph encoder.onnx holds: x -> (mu, logvar)."""

    def __init__(self, vae: VAE) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.vae.encode(x)


def export(vae: VAE, out: Path, latent: int) -> None:
    """decoder.onnx (z -> logits [N,784]), encoder.onnx and model.json into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    n = torch.export.Dim("N")  # a dynamic batch axis: the app decodes any number of codes
    vae.eval()
    with torch.no_grad():
        torch.onnx.export(vae.dec, (torch.randn(2, latent),), str(out / "decoder.onnx"),
                          input_names=["z"], output_names=["logits"], dynamo=True,
                          external_data=False, dynamic_shapes=({0: n},), verbose=False)
        torch.onnx.export(Encoder(vae), (torch.rand(2, 1, 28, 28),), str(out / "encoder.onnx"),
                          input_names=["x"], output_names=["mu", "logvar"], dynamo=True,
                          external_data=False, dynamic_shapes=({0: n},), verbose=False)
    (out / "model.json").write_text(json.dumps(
        {"latent_dim": latent, "output": "logits", "dataset": "mnist",
         "description": "a VAE trained by docs/examples/own_vae.py"}, indent=2) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--latent", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="train on the first N images only")
    ap.add_argument("--out", type=Path, default=Path("my-vae"))
    args = ap.parse_args()
    torch.manual_seed(0)
    x = mnist_train(limit=args.limit)
    vae = VAE(args.latent)
    opt = torch.optim.Adam(vae.parameters(), lr=1e-3)
    t0 = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        total = 0.0
        for batch in x[torch.randperm(len(x))].split(128):
            loss = vae(batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
        print(f"epoch {epoch}: -ELBO {total / len(x):.1f} nats per image "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
    export(vae, args.out, args.latent)
    print(f"wrote {args.out}/: decoder.onnx, encoder.onnx, model.json")


if __name__ == "__main__":
    main()
