"""The reference: the PyTorch VAE example's training loop, re-implemented faithfully.

Source: pytorch/examples, `vae/main.py` (the classic version with the plain BCE + KLD loss):

* data: `torch.utils.data.DataLoader` over `torchvision.datasets.MNIST(..., transform=
  transforms.ToTensor())`, batch 128, `shuffle=True`; the loader kwargs are
  `{'num_workers': 1, 'pin_memory': True}` only with CUDA, empty on the CPU (so num_workers=0);
* model: MLP 784-400-20 with layers fc1, fc21, fc22, fc3, fc4, ReLU, sigmoid output;
* loss: `F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction='sum') + KLD`, summed over
  the batch (the core averages over the batch instead; Adam is invariant to that scale, up to
  its epsilon);
* Adam, lr 1e-3; `train_loss += loss.item()` every step; `test()` averages the same summed loss
  over the whole test set (the test loader of the example uses the same batch size).

Left out, because they only slow the baseline down (so the comparison favours the baseline): the
`print` every 10 batches and the `save_image` of reconstructions and samples after each epoch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import torch
import torch.utils.data
from torch import nn, optim
from torch.nn import functional as F

from vae_core.data import resolve_root

BATCH_SIZE = 128
SEED = 1  # the example's default --seed


class VAE(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def loss_function(recon_x: torch.Tensor, x: torch.Tensor, mu: torch.Tensor,
                  logvar: torch.Tensor) -> torch.Tensor:
    """Reconstruction + KL divergence, summed over all elements and the batch."""
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
    # Appendix B of Kingma & Welling 2014: -0.5 * sum(1 + log(sigma^2) - mu^2 - sigma^2)
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return BCE + KLD


def mnist_root(data_dir: str | Path | None) -> Path:
    """A torchvision root (`<root>/MNIST/raw/` with decompressed files) holding both splits."""
    root = resolve_root(data_dir, "mnist", True)
    test_root = resolve_root(data_dir, "mnist", False)
    if test_root != root:  # both splits must sit in one root for datasets.MNIST's check
        raise RuntimeError(f"train and test splits resolved to different roots: {root}, "
                           f"{test_root}")
    return root


def loader_kwargs(device: torch.device) -> dict[str, Any]:
    return {"num_workers": 1, "pin_memory": True} if device.type == "cuda" else {}


def make_loaders(data_dir: str | Path | None, n_train: int = 0, device: str | torch.device = "cpu",
                 batch_size: int = BATCH_SIZE, with_test: bool = True
                 ) -> tuple[torch.utils.data.DataLoader, torch.utils.data.DataLoader | None]:
    """The example's loaders; `n_train` > 0 keeps the first n training images (a Subset)."""
    from torchvision import datasets, transforms  # deferred: ~1.5 s, only the example's loaders

    root = str(mnist_root(data_dir))
    kwargs = loader_kwargs(torch.device(device))
    train_ds: torch.utils.data.Dataset = datasets.MNIST(
        root, train=True, download=False, transform=transforms.ToTensor())
    if n_train:
        train_ds = torch.utils.data.Subset(train_ds, range(min(n_train, len(train_ds))))
    train_loader = torch.utils.data.DataLoader(train_ds, batch_size=batch_size, shuffle=True,
                                               **kwargs)
    test_loader = None
    if with_test:
        test_ds = datasets.MNIST(root, train=False, transform=transforms.ToTensor())
        test_loader = torch.utils.data.DataLoader(test_ds, batch_size=batch_size, shuffle=False,
                                                  **kwargs)
    return train_loader, test_loader


def make_model(device: str | torch.device = "cpu") -> tuple[VAE, optim.Optimizer]:
    model = VAE().to(device)
    return model, optim.Adam(model.parameters(), lr=1e-3)


def train(model: VAE, optimizer: optim.Optimizer, train_loader: torch.utils.data.DataLoader,
          device: str | torch.device = "cpu") -> float:
    """One epoch, exactly the example's `train(epoch)` minus its prints. Returns the average
    loss per image."""
    model.train()
    train_loss = train_steps(model, optimizer, train_loader, device)
    return train_loss / len(train_loader.dataset)


def train_steps(model: VAE, optimizer: optim.Optimizer,
                batches: Iterable[tuple[torch.Tensor, Any]],
                device: str | torch.device = "cpu") -> float:
    """The body of the example's training loop over any iterable of (data, target) batches;
    returns the summed loss. (`train` is this over one epoch of the loader.)"""
    train_loss = 0.0
    for _batch_idx, (data, _) in enumerate(batches):
        data = data.to(device)
        optimizer.zero_grad()
        recon_batch, mu, logvar = model(data)
        loss = loss_function(recon_batch, data, mu, logvar)
        loss.backward()
        train_loss += loss.item()
        optimizer.step()
    return train_loss


def batch_stream(loader: torch.utils.data.DataLoader) -> Iterator[tuple[torch.Tensor, Any]]:
    """The loader's batches, epoch after epoch (a new shuffled iterator per epoch, as the
    example's `for epoch ...: for batch in train_loader` does)."""
    while True:
        yield from loader


def test(model: VAE, test_loader: torch.utils.data.DataLoader,
         device: str | torch.device = "cpu") -> float:
    """The example's `test(epoch)` minus its save_image: mean test loss per image."""
    model.eval()
    test_loss = 0.0
    with torch.no_grad():
        for data, _ in test_loader:
            data = data.to(device)
            recon_batch, mu, logvar = model(data)
            test_loss += loss_function(recon_batch, data, mu, logvar).item()
    return test_loss / len(test_loader.dataset)
