"""Real handwriting in, the same digit out: class_consistency of every bundled MNIST model on
the MNIST test set and on the synthetic "real-world" corpus (tests/realworld.py), and the
reference classifier's accuracy on the corpus after preprocessing.

    python -m bench.realworld                 # 1,000 corpus renders, the full test set
    python -m bench.realworld --n 500 --json  # last stdout line: one JSON object

class_consistency is the share of reconstructions the classifier (vae_core.classifier) reads
as the input's label; on the corpus, the input is the preprocessed render. A conditional
model reconstructs under the true label, so its figure says little about the image.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from tests.realworld import corpus  # the generator lives with the tests that use it
from vae_core import ImageError, load_checkpoint, load_split, preprocess_image
from vae_core.classifier import accuracy, class_consistency

ROOT = Path(__file__).resolve().parents[1]


def mnist_models() -> list[Path]:
    """The bundled checkpoints trained on MNIST."""
    out = []
    for p in sorted((ROOT / "checkpoints").iterdir()):
        cfg = p / "config.json"
        if cfg.is_file() and json.loads(cfg.read_text()).get("dataset") == "mnist":
            out.append(p)
    return out


def preprocess_corpus(images: np.ndarray, seed: int) -> tuple[np.ndarray, int, float]:
    """Render and preprocess one image per digit; refused renders become blank digits.
    Returns the digits [N, 28, 28], the number refused and the seconds per image."""
    out, refused = [], 0
    t0 = time.perf_counter()
    for r in corpus(images, seed):
        try:
            out.append(preprocess_image(r.data))
        except ImageError:
            out.append(np.zeros((28, 28), np.float32))
            refused += 1
    return np.stack(out), refused, (time.perf_counter() - t0) / max(1, len(out))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.realworld", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000, help="corpus renders (first N test digits)")
    ap.add_argument("--seed", type=int, default=0, help="corpus seed")
    ap.add_argument("--test-limit", type=int, default=0, help="MNIST test digits (0 = all)")
    ap.add_argument("--json", action="store_true", help="print one JSON object last")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    test = load_split("mnist", False, limit=a.test_limit)
    x, y = test.floats(), test.labels.numpy()
    print(f"rendering and preprocessing {a.n} corpus images ...", file=sys.stderr)
    pre, refused, per_image = preprocess_corpus(test.images[:a.n, 0].numpy(), a.seed)
    yc = y[:a.n]
    res = {"corpus_images": a.n, "corpus_seed": a.seed, "test_images": len(y),
           "refused": refused, "seconds_per_image": round(per_image, 4),
           "classifier_test": accuracy(x, y),
           "classifier_corpus_clean": accuracy(x[:a.n], yc),
           "classifier_corpus": accuracy(pre, yc), "models": {}}
    res["corpus_ratio"] = res["classifier_corpus"] / res["classifier_corpus_clean"]
    for path in mnist_models():
        model = load_checkpoint(path).model
        res["models"][path.name] = {"mnist_test": class_consistency(model, x, y),
                                    "corpus": class_consistency(model, pre, yc),
                                    "conditional": bool(getattr(model.cfg, "conditional",
                                                                False))}
        print(f"{path.name}: {res['models'][path.name]}", file=sys.stderr)
    print("| model | class_consistency, MNIST test | class_consistency, synthetic corpus |")
    print("| --- | --- | --- |")
    for name, m in res["models"].items():
        given = " (given the true label)" if m["conditional"] else ""
        print(f"| `{name}`{given} | {m['mnist_test']:.2%} | {m['corpus']:.2%} |")
    print(f"classifier: {res['classifier_test']:.2%} on the test set; on the corpus "
          f"{res['classifier_corpus']:.2%} after preprocessing vs "
          f"{res['classifier_corpus_clean']:.2%} on the same clean digits "
          f"(ratio {res['corpus_ratio']:.3f}); {refused} refused")
    if a.json:
        print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
