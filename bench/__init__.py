"""latent-explorer's benchmark suite: `python -m bench [--quick] [--json]`.

Modules, one per benchmark (each importable without side effects; nothing runs at import):

* `bench.baseline`    - a faithful re-implementation of the PyTorch VAE example's training loop
  (pytorch/examples, vae/main.py), the reference the core's trainer is measured against.
* `bench.training`    - training throughput (core vs baseline on the same images), achieved
  GFLOP/s against this machine's measured fp32 matmul peak, and probes of what would help.
* `bench.quality`     - time to quality: wall time until a test loss target is reached.
* `bench.interactive` - server-side latency of the app's interactions (slider, manifold,
  encode, upload) and the app's cold start.
* `bench.scaling`     - manifold size, Plotly scatter size, batch size, MLP vs conv.
* `bench.gpu`         - the same measurements on CUDA (fp32 and bf16 autocast) where a GPU exists.
* `bench.runner`      - the command line (`main()`), result files and plots.
"""

from .runner import main

__all__ = ["main"]
