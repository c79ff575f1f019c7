"""Training throughput: the core's Trainer vs the PyTorch example's loop, and achieved GFLOP/s.

Both train the same network (MLP 784-400-20, ReLU, Bernoulli/BCE decoder on grey levels,
Adam 1e-3, batch 128) on the same first N MNIST training images, each in its own real loop: one
vae_core.Trainer run of `reps` epochs over the N images, and the example's loop (its DataLoader,
shuffled, epoch after epoch). On a shared machine the load changes from one second to the next,
so the two loops take turns every 10 steps: a Trainer callback stops the core's clock, runs 10
steps of the example's loop, and restarts it. Each side's images/s is the median over these
10-step chunks, the speedup the median of the per-chunk ratios (two chunks back to back see the
same load). After each epoch the callback also times 2048x2048 fp32 matmuls (the peak), so the
percent of peak comes from the same minutes.

FLOPs are counted for the matmuls only: forward = 2 * B * sum(in * out) over the Linear layers,
training step = 3 x forward (backward ~ 2 x forward, the usual convention). The exact backward is
a little less because the first layer needs no input gradient; both counts are reported.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from vae_core import (Callback, ModelConfig, Split, TrainConfig, Trainer, build_model,
                      load_split)

from . import baseline
from .common import log, median

CORE_MODEL = {"arch": "mlp", "hidden": [400], "latent_dim": 20, "likelihood": "bernoulli",
              "activation": "relu"}


def core_model_config(arch: str = "mlp") -> Any:
    if arch == "conv":
        return ModelConfig(arch="conv", channels=[32, 64], latent_dim=20, likelihood="bernoulli",
                           activation="relu")
    return ModelConfig(**CORE_MODEL)


def core_train_config(batch_size: int = 128, epochs: int = 1, device: str = "cpu",
                      precision: str = "fp32") -> Any:
    # The example's recipe (constant 1e-3), not the library's fast defaults (bench.default_run).
    return TrainConfig(epochs=epochs, batch_size=batch_size, optimizer="adam", lr=1e-3,
                       lr_schedule="constant", binarize="none", device=device,
                       precision=precision)


@contextlib.contextmanager
def num_threads(n: int | None) -> Iterator[None]:
    """Temporarily set torch's intra-op thread count (None: leave as is)."""
    old = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _sync(device: str | torch.device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def calibrate_threads(candidates: tuple[int, ...] | None = None, seconds: float = 0.4,
                      rounds: int = 2) -> dict[str, Any]:
    """Images/s of the core's training step at each candidate thread count (interleaved,
    time-boxed); returns them and the best. On a shared machine whose cores are busy, torch's
    default (one OpenMP thread per core) can be 10-30x slower than one thread, because every
    parallel region waits for a thread that another process has descheduled. A candidate
    already 3x slower than the best is not timed again (such steps can take a second each)."""
    default = torch.get_num_threads()
    cands = candidates or tuple(sorted({1, default}))
    torch.manual_seed(0)
    model = build_model(core_model_config())
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(128, 1, 28, 28)
    rates: dict[int, list[float]] = {t: [] for t in cands}

    def rate(t: int) -> float:
        best = max((median(v) for v in rates.values() if v), default=None)
        with num_threads(t):
            _step(model, opt, x)
            n, t0 = 0, time.perf_counter()
            while True:
                _step(model, opt, x)
                n += 1
                el = time.perf_counter() - t0
                if el >= seconds or (best and n * len(x) / el < best / 3):
                    return n * len(x) / el

    for r in range(rounds):
        for t in (cands if r % 2 == 0 else tuple(reversed(cands))):
            best = max((median(v) for v in rates.values() if v), default=0.0)
            if rates[t] and median(rates[t]) < best / 3:
                continue  # a clear loser: do not pay for it twice
            rates[t].append(rate(t))
    med = {t: median(v) for t, v in rates.items()}
    chosen = max(med, key=lambda t: med[t])
    return {"default_threads": default, "step_images_per_s": {str(t): v for t, v in med.items()},
            "chosen": chosen}


def _step(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor) -> None:
    out = model(x)
    opt.zero_grad(set_to_none=True)
    out.loss.backward()
    out.loss.item()
    opt.step()


# --- FLOPs and peak -----------------------------------------------------------------------
def linear_macs(model: nn.Module) -> tuple[int, int]:
    """(sum of in*out over all Linear layers, the same for the first layer only)."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    total = sum(m.in_features * m.out_features for m in linears)
    return total, (linears[0].in_features * linears[0].out_features if linears else 0)


def train_flops_per_image(model: nn.Module) -> dict[str, int]:
    """Matmul FLOPs per image of one training step (MLP models; conv layers are not counted)."""
    macs, first = linear_macs(model)
    fwd = 2 * macs
    exact = fwd + 2 * macs + 2 * (macs - first)  # weight grads + input grads except layer 1
    return {"forward": fwd, "train_convention": 3 * fwd, "train_exact": exact}


def matmul_peak(n: int = 2048, reps: int = 5, device: str = "cpu",
                dtype: torch.dtype = torch.float32) -> dict[str, float]:
    """Measured matmul throughput (GFLOP/s): median of `reps` timed torch.mm after warmup."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(2):
        torch.mm(a, b)
    _sync(device)
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        torch.mm(a, b)
        _sync(device)
        ts.append(time.perf_counter() - t)
    flops = 2 * n ** 3
    return {"n": n, "median_gflops": flops / median(ts) / 1e9, "best_gflops": flops / min(ts) / 1e9}


# --- interleaving ----------------------------------------------------------------------------
def paired_ratio(num: list[float], den: list[float]) -> float:
    """Median of per-chunk ratios (each pair measured back to back)."""
    return median([a / b for a, b in zip(num, den, strict=False)])


class Interleave:
    """A vae_core Callback that shares one Trainer run with other loops, taking turns.

    Every `every` core steps (and at each epoch's end) it records the core's images/s since its
    last turn, then calls each of `others` once with the number of steps the core just ran
    (each runs that many steps of its own loop and returns its images/s), rotating their order,
    then restarts the core's clock. `at_epoch_end` runs (untimed) after every epoch; `budget_s`
    stops training after the epoch that crosses it.
    """

    def __init__(self, others: dict[str, Callable[[int], float]], every: int = 10,
                 at_epoch_end: Callable[[], None] | None = None,
                 budget_s: float | None = None, label: str = "") -> None:
        self.cb = type("_InterleaveCallback", (Callback,), {
            "on_train_start": lambda _s, tr: self._start(tr),
            "on_step": lambda _s, tr, info: self._step(tr, info),
            "on_epoch_end": lambda _s, tr, info: self._epoch_end(tr, info)})()
        self.others, self.every, self.at_epoch_end = others, every, at_epoch_end
        self.budget_s, self.label = budget_s, label
        self.rates: dict[str, list[float]] = {"core": [], **{k: [] for k in others}}
        self._turn = 0

    def _start(self, trainer: Any) -> None:
        self.t_begin = time.perf_counter()
        self._reset()

    def _reset(self) -> None:
        self.steps = self.images = 0
        self.t0 = time.perf_counter()

    def _step(self, trainer: Any, info: dict[str, Any]) -> None:
        n = len(trainer.x_train)
        self.steps += 1
        self.images += min(trainer.batch, n - (info["step"] - 1) * trainer.batch)
        if self.steps >= self.every or info["step"] == trainer.steps_per_epoch:
            self.rates["core"].append(self.images / (time.perf_counter() - self.t0))
            names = list(self.others)
            k = self._turn % max(len(names), 1)
            for name in names[k:] + names[:k]:
                self.rates[name].append(self.others[name](self.steps))
            self._turn += 1
            self._reset()

    def _epoch_end(self, trainer: Any, info: dict[str, Any]) -> None:
        if self.at_epoch_end:
            self.at_epoch_end()
        if self.label:
            chunks = -(-trainer.steps_per_epoch // self.every)
            log(f"{self.label} epoch {info['epoch']}: " + ", ".join(
                f"{k} {median(v[-chunks:]):,.0f}" for k, v in self.rates.items() if v)
                + " img/s (medians over this epoch's chunks)")
        if self.budget_s is not None and time.perf_counter() - self.t_begin > self.budget_s \
                and info["epoch"] < trainer.train_cfg.epochs:
            log(f"{self.label}: stopping after epoch {info['epoch']} (budget "
                f"{self.budget_s:.0f} s)")
            trainer.stop()
        self._reset()


def _count(batches: Iterator[tuple[torch.Tensor, Any]], box: list[int]
           ) -> Iterator[tuple[torch.Tensor, Any]]:
    for data, target in batches:
        box[0] += len(data)
        yield data, target


def baseline_steps_fn(loader: torch.utils.data.DataLoader, device: str = "cpu"
                      ) -> Callable[[int], float]:
    """fn(k): k steps of the example's loop (persistent model, optimizer and batch stream,
    epoch after epoch); returns images/s."""
    torch.manual_seed(baseline.SEED)
    model, opt = baseline.make_model(device)
    model.train()
    stream = baseline.batch_stream(loader)

    def fn(k: int) -> float:
        box = [0]
        t = time.perf_counter()
        baseline.train_steps(model, opt, _count(itertools.islice(stream, k), box), device)
        _sync(device)
        return box[0] / (time.perf_counter() - t)

    return fn


def core_trainer(split: Any, epochs: int, callback: Interleave, batch_size: int = 128,
                 device: str = "cpu", precision: str = "fp32") -> Any:
    return Trainer(core_model_config(), core_train_config(batch_size, epochs, device, precision),
                   split, callbacks=[callback.cb])


def core_epoch(split: Any, batch_size: int = 128, arch: str = "mlp", device: str = "cpu",
               precision: str = "fp32") -> dict[str, float]:
    """One epoch of a fresh vae_core.Trainer over `split` (no test set, no checkpoint)."""
    trainer = Trainer(core_model_config(arch), core_train_config(batch_size, 1, device, precision),
                      split)
    t0 = time.perf_counter()
    metrics = trainer.run()
    _sync(device)
    dt = time.perf_counter() - t0
    n = len(split)
    return {"images": n, "seconds": dt, "images_per_s": n / dt,
            "train_loss": trainer.history[-1]["train_loss"] if trainer.history else None,
            "epochs": metrics["epochs"]}


def baseline_epoch(loader: torch.utils.data.DataLoader, device: str = "cpu") -> dict[str, float]:
    """One epoch of the example's loop over `loader` (fresh model and optimizer)."""
    torch.manual_seed(baseline.SEED)
    model, optimizer = baseline.make_model(device)
    t0 = time.perf_counter()
    loss = baseline.train(model, optimizer, loader, device)
    _sync(device)
    dt = time.perf_counter() - t0
    n = len(loader.dataset)
    return {"images": n, "seconds": dt, "images_per_s": n / dt, "train_loss": loss}


def _warm_up(data_dir: str | Path | None, device: str = "cpu") -> None:
    """Untimed: allocator, MKL/oneDNN kernels, the dataset's pages, for both loops."""
    core_epoch(load_split("mnist", True, data_dir, limit=1024), device=device)
    loader, _ = baseline.make_loaders(data_dir, 1024, device, with_test=False)
    baseline_epoch(loader, device)


# --- throughput ---------------------------------------------------------------------------------
def throughput(data_dir: str | Path | None, n_images: int = 12_800, reps: int = 3,
               peak_n: int = 2048, peak_reps: int = 5, device: str = "cpu",
               budget_s: float | None = None, every: int = 10) -> dict[str, Any]:
    """Core vs baseline images/s on the same first n_images (`reps` epochs each, taking turns
    every `every` steps); GFLOP/s of the core's step vs the matmul peak measured between epochs.
    `budget_s`: stop after the epoch that crosses it (a quick run on a loaded machine)."""
    split = load_split("mnist", True, data_dir, limit=n_images)
    loader, _ = baseline.make_loaders(data_dir, len(split), device, with_test=False)
    _warm_up(data_dir, device)
    peak: list[float] = []
    inter = Interleave({"baseline": baseline_steps_fn(loader, device)}, every,
                       at_epoch_end=lambda: peak.append(
                           matmul_peak(peak_n, peak_reps, device)["median_gflops"]),
                       budget_s=budget_s, label="throughput")
    trainer = core_trainer(split, reps, inter, device=device)
    trainer.run()
    core, base = inter.rates["core"], inter.rates["baseline"]
    flops = train_flops_per_image(build_model(core_model_config()))
    core_ips, base_ips, peak_gf = median(core), median(base), median(peak)
    speedup = paired_ratio(core, base)
    gflops = core_ips * flops["train_convention"] / 1e9
    gflops_exact = core_ips * flops["train_exact"] / 1e9
    return {
        "n_images": len(split), "epochs": len(trainer.history), "steps_per_turn": every,
        "chunks": len(core), "batch_size": 128, "device": device,
        "torch_threads": torch.get_num_threads(),
        "core_images_per_s": core_ips, "baseline_images_per_s": base_ips,
        "speedup": speedup, "speedup_of_medians": core_ips / base_ips,
        "core_images_per_s_all": core, "baseline_images_per_s_all": base,
        "core_train_loss_last_epoch": trainer.history[-1]["train_loss"],
        "flops_per_image": flops, "core_gflops": gflops, "core_gflops_exact_backward": gflops_exact,
        "matmul_peak_gflops": peak_gf, "matmul_peak_gflops_all": peak,
        "matmul_peak_n": peak_n, "percent_of_peak": 100 * gflops / peak_gf,
        "percent_of_peak_exact_backward": 100 * gflops_exact / peak_gf,
        # The most any fp32 loop doing this math could gain over the baseline here: the core's
        # step at 100% of the measured matmul peak (it is never faster than its matmuls).
        "speedup_bound_at_fp32_peak": {
            "convention_flops": base_ips ** -1 / (flops["train_convention"] / (peak_gf * 1e9)),
            "exact_flops": base_ips ** -1 / (flops["train_exact"] / (peak_gf * 1e9))},
        "goal_speedup": 4.0, "goal_percent_of_peak": 50.0,
        "speedup_goal_met": speedup >= 4.0, "peak_goal_met": 100 * gflops / peak_gf >= 50.0,
    }


# --- probes: what would make the core's trainer faster ----------------------------------------
def raw_steps_fn(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor,
                 forward: Callable[[torch.Tensor], torch.Tensor], batch_size: int = 128
                 ) -> Callable[[int], float]:
    """fn(k): k steps of a minimal loop over in-memory x (shuffled per pass, index_select,
    forward, zero_grad, backward, one .item(), step); returns images/s."""
    g = torch.Generator().manual_seed(0)
    state = {"perm": torch.randperm(len(x), generator=g), "pos": 0}

    def fn(k: int) -> float:
        n = 0
        t0 = time.perf_counter()
        for _ in range(k):
            if state["pos"] >= len(x):
                state["perm"], state["pos"] = torch.randperm(len(x), generator=g), 0
            idx = state["perm"][state["pos"]:state["pos"] + batch_size]
            state["pos"] += batch_size
            xb = x.index_select(0, idx)
            loss = forward(xb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            loss.item()
            optimizer.step()
            n += len(idx)
        return n / (time.perf_counter() - t0)

    return fn


def loader_only_fn(loader: torch.utils.data.DataLoader) -> Callable[[int], float]:
    """fn(k): k batches of the example's DataLoader, no training (its input pipeline alone)."""
    stream = baseline.batch_stream(loader)

    def fn(k: int) -> float:
        box = [0]
        t = time.perf_counter()
        for _ in _count(itertools.islice(stream, k), box):
            pass
        return box[0] / (time.perf_counter() - t)

    return fn


def _lean_forward(model: Any) -> Callable[[torch.Tensor], torch.Tensor]:
    """The core model's loss without building VAEOutput (no sigmoid(x_hat), no extra means)."""
    def fwd(x: torch.Tensor) -> torch.Tensor:
        mu, logvar = model.encode(x)
        z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
        logits = model.decoder(z)
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
        kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum()
        return (rec + kl) / x.shape[0]

    return fwd


def _bf16(fwd: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
    def run(xb: torch.Tensor) -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return fwd(xb)

    return run


def probes(data_dir: str | Path | None, n_images: int = 12_800, reps: int = 3,
           try_compile: bool = True, threads: tuple[int, ...] = (1, 2),
           every: int = 10) -> dict[str, Any]:
    """Variants of the core's training loop, taking turns with the real Trainer, as ratios.

    Every variant uses the core's own model (vae_core.build_model) on the same in-memory
    images; only the loop around it changes, which is what a change to vae_core/train.py
    would change. Also: the example's input pipeline alone, the Trainer with bf16 autocast
    (TrainConfig.precision), and thread counts.
    """
    split = load_split("mnist", True, data_dir, limit=n_images)
    x = split.floats()
    cfg = core_model_config()

    def raw(lean: bool = False, bf16: bool = False, **adam: Any) -> Callable[[int], float]:
        torch.manual_seed(0)
        m = build_model(cfg)
        opt = torch.optim.Adam(m.parameters(), lr=1e-3, **adam)
        fwd = _lean_forward(m) if lean else (lambda xb: m(xb).loss)
        return raw_steps_fn(m, opt, x, _bf16(fwd) if bf16 else fwd)

    loader, _ = baseline.make_loaders(data_dir, len(x), with_test=False)
    others: dict[str, Callable[[int], float]] = {
        "raw_loop": raw(),
        "raw_loop_fused_adam": raw(fused=True),
        "raw_loop_foreach_adam": raw(foreach=True),
        "lean_forward_fused_adam": raw(lean=True, fused=True),
        "raw_loop_bf16_autocast": raw(bf16=True),
        "raw_loop_fused_adam_bf16_autocast": raw(bf16=True, fused=True),
        "example_dataloader_only": loader_only_fn(loader),
    }
    compile_info: dict[str, Any] = {"tried": False}
    if try_compile:
        compile_info = _compile_probe(cfg, x)
        if compile_info.get("ok"):
            others["compiled_fused_adam"] = compile_info.pop("fn")
    _warm_up(data_dir)
    for fn in others.values():
        fn(every)
    inter = Interleave(others, every, label="probes")
    core_trainer(split, reps, inter).run()
    rates = inter.rates
    ref = rates.pop("core")
    loader_rates = rates.pop("example_dataloader_only")
    out: dict[str, Any] = {"n_images": len(x), "epochs": reps, "steps_per_turn": every,
                           "torch_threads": torch.get_num_threads(),
                           "trainer_images_per_s": median(ref), "variants": {}}
    for name, v in rates.items():
        out["variants"][name] = {"images_per_s": median(v),
                                 "ratio_to_trainer": paired_ratio(v, ref), "all": v}
    # The example's input pipeline alone (PIL image -> ToTensor -> collate, no training): its
    # per-image time is what the baseline pays on top of the same training step.
    out["example_dataloader_only"] = {
        "images_per_s": median(loader_rates), "us_per_image": 1e6 / median(loader_rates),
        "trainer_us_per_image": 1e6 / median(ref),
        "ratio_to_trainer": paired_ratio(loader_rates, ref), "all": loader_rates}
    out["matmul_peak_gflops"] = {
        "fp32": matmul_peak(2048, 3)["median_gflops"],
        "bf16": matmul_peak(2048, 3, dtype=torch.bfloat16)["median_gflops"]}
    out["compile"] = compile_info
    out["trainer_precision"] = trainer_variants(
        split, {"fp32": {}, "bf16": {"precision": "bf16"}}, reps, label="trainer precision")
    out["threads"] = trainer_variants(split, {str(t): {"threads": t} for t in threads}, reps,
                                      chunk=1280, n_images=1280, label="threads")
    return out


def _compile_probe(cfg: Any, x: torch.Tensor) -> dict[str, Any]:
    """torch.compile of the model (inductor, C++ codegen on CPU): compile time, then a runner."""
    info: dict[str, Any] = {"tried": True}
    try:
        torch.manual_seed(0)
        m = build_model(cfg)
        cm = torch.compile(m)
        opt = torch.optim.Adam(m.parameters(), lr=1e-3, fused=True)
        fn = raw_steps_fn(cm, opt, x, lambda xb: cm(xb).loss)
        t0 = time.perf_counter()
        fn(2)  # compiles forward and backward (the inductor cache may make this fast)
        info["compile_seconds"] = time.perf_counter() - t0
        info["ok"] = True
        info["fn"] = fn
    except Exception as e:  # noqa: BLE001 - a missing compiler is a finding, not a crash
        info.update(ok=False, error=f"{type(e).__name__}: {str(e)[:300]}")
    return info


# --- Trainer vs Trainer: fresh Trainers on slices, taking turns -----------------------------
def _slice(split: Any, a: int, b: int) -> Any:
    return Split(split.images[a:b], split.labels[a:b], split.classes)


def trainer_variants(split: Any, variants: dict[str, dict[str, Any]], reps: int = 3,
                     chunk: int = 2560, n_images: int | None = None,
                     label: str = "") -> dict[str, Any]:
    """Images/s of vae_core.Trainer under different settings (batch_size, arch, precision,
    threads), taking turns slice by slice: each turn is one epoch of a fresh Trainer over the
    next `chunk` images. All variants pay the same per-Trainer start-up, so ratios are fair;
    absolute rates are a little below a long run's."""
    n = min(n_images or len(split), len(split))
    parts = [_slice(split, a, min(a + chunk, n)) for a in range(0, n, chunk)]
    parts = [p for p in parts if len(p) == chunk] or parts[:1]

    def make(opts: dict[str, Any]) -> Callable[[int], float]:
        kw = {k: v for k, v in opts.items() if k != "threads"}

        def fn(c: int) -> float:
            with num_threads(opts.get("threads")):
                return core_epoch(parts[c % len(parts)], **kw)["images_per_s"]

        return fn

    fns = {name: make(opts) for name, opts in variants.items()}
    for fn in fns.values():  # warm-up
        fn(0)
    rates: dict[str, list[float]] = {k: [] for k in fns}
    names = list(fns)
    turn = 0
    for r in range(reps):
        for c in range(len(parts)):
            k = turn % len(names)
            for name in names[k:] + names[:k]:
                rates[name].append(fns[name](c))
            turn += 1
        if label:
            log(f"{label} rep {r + 1}/{reps}: " + ", ".join(
                f"{k} {median(v[-len(parts):]):,.0f}" for k, v in rates.items()) + " img/s")
    ref = rates[names[0]]
    return {"n_images": sum(len(p) for p in parts), "chunk_images": chunk, "reps": reps,
            "images_per_s": {k: median(v) for k, v in rates.items()},
            f"ratio_to_{names[0]}": {k: paired_ratio(v, ref) for k, v in rates.items()},
            "all": rates}
