"""Configuration dataclasses: what a model is (`ModelConfig`) and how it is trained (`TrainConfig`).

Both round-trip through plain dicts (and so JSON) and validate their own bounds, so a
checkpoint's `config.json` is checked *before* any tensor is allocated.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError

ARCHS = ("mlp", "conv")
ACTIVATIONS = ("relu", "leaky_relu", "sigmoid", "tanh", "elu")
LIKELIHOODS = ("bernoulli", "gaussian")
OPTIMIZERS = ("adam", "rmsprop", "sgd")
BINARIZE = ("none", "static", "dynamic")
DEVICES = ("auto", "cpu", "cuda")
DATASETS = ("mnist", "fashion-mnist", "folder")
PRECISIONS = ("auto", "fp32", "bf16")
LR_SCHEDULES = ("constant", "cosine", "onecycle")

# Bounds keep a hostile config.json from allocating gigabytes before weights are even read.
MAX_LATENT = 128
MAX_WIDTH = 4096
MAX_CHANNELS = 512
MAX_LAYERS = 8
MAX_PARAMS = 50_000_000
MAX_CLASSES = 1000
IMAGE_SIZE = 28


def _opt(default: Any, label: str, choices: tuple, help: str = "") -> Any:
    """A field with a fixed set of choices; the metadata drives the CLI and the Train form."""
    return field(default=default, metadata={"label": label, "help": help,
                                            "choices": tuple(choices)})


def _num(default: int | float, label: str, lo: float, hi: float, step: float | None = None,
         fmt: str | None = None, *, help: str = "") -> Any:
    """A bounded int or float field (the bounds are the form's; validate() has the rules)."""
    return field(default=default, metadata={"label": label, "help": help, "min": lo,
                                            "max": hi, "step": step, "format": fmt})


def _flag(default: bool, label: str, help: str = "") -> Any:
    """An on/off field: a checkbox in the form, a store_true flag on the command line."""
    return field(default=default, metadata={"label": label, "help": help})


def _derived(default: int, label: str, help: str = "") -> Any:
    """A field set by the code from the data (not offered by the CLI or the form)."""
    return field(default=default, metadata={"label": label, "help": help, "derived": True})


def _ints(default: list[int], label: str, help: str = "") -> Any:
    """A list of whole numbers (layer widths, strides)."""
    return field(default_factory=lambda: list(default),
                 metadata={"label": label, "help": help, "list": True})


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise ConfigError(msg)


def _known_fields(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ConfigError(f"{cls.__name__} must be a JSON object, got {type(data).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
    _check(not unknown, f"{cls.__name__}: unknown field(s) "
           f"{', '.join(_short(u) for u in unknown[:5])}{more}")
    return dict(data)


@dataclass
class ModelConfig:
    """Architecture of a VAE on 28x28 grey images."""

    arch: str = _opt("mlp", "Architecture", ARCHS, "encoder/decoder family")
    latent_dim: int = _num(2, "Latent size", 1, MAX_LATENT, help="dimensions of z")
    hidden: list[int] = _ints([512, 256], "MLP hidden widths",
                              "encoder order; the decoder mirrors them (MLP only)")
    channels: list[int] = _ints([32, 64], "Conv channels", "encoder order (conv only)")
    strides: list[int] = _ints([], "Conv strides",
                               "1 or 2 per conv layer; empty = 2 everywhere (conv only)")
    kernel_size: int = _opt(3, "Conv kernel size", (3, 5, 7), "conv only")
    conv_dense: int = _num(0, "Conv dense width", 0, MAX_WIDTH,
                           help="dense layer between the conv stack and (μ, log σ²); 0 = none "
                                "(conv only)")
    activation: str = _opt("relu", "Activation", ACTIVATIONS, "hidden-layer nonlinearity")
    leaky_slope: float = _num(0.2, "Leaky ReLU slope", 0.0, 0.99, 0.05,
                              help="negative slope (leaky_relu only)")
    likelihood: str = _opt("bernoulli", "Likelihood", LIKELIHOODS,
                           "decoder distribution p(x|z)")
    gaussian_var: float = _num(0.5, "Gaussian variance", 1e-4, 100.0, 0.1, "%g",
                               help="decoder variance (gaussian only); 0.5 makes the "
                                    "reconstruction term the sum of squares")
    dropout: float = _num(0.0, "Dropout", 0.0, 0.95, 0.05, help="dropout rate in hidden layers")
    conditional: bool = _flag(False, "Conditional (CVAE)",
                              "give the class label to the encoder and the decoder (Sohn et al. "
                              "2015), so the latent holds the style alone")
    n_classes: int = _derived(10, "Classes",
                              "one-hot label size of a conditional model; the Trainer sets it "
                              "from the training data's classes")

    def __post_init__(self) -> None:
        self.validate()

    def conv_strides(self) -> list[int]:
        return list(self.strides) if self.strides else [2] * len(self.channels)

    def validate(self) -> None:
        """Raise ConfigError if any field is out of bounds."""
        _check(self.arch in ARCHS, f"arch must be one of {ARCHS}, got {_short(self.arch)}")
        _check(_is_int(self.latent_dim) and 1 <= self.latent_dim <= MAX_LATENT,
               f"latent_dim must be an integer in 1..{MAX_LATENT}, got {_short(self.latent_dim)}")
        _check(self.activation in ACTIVATIONS,
               f"activation must be one of {ACTIVATIONS}, got {_short(self.activation)}")
        _check(self.likelihood in LIKELIHOODS,
               f"likelihood must be one of {LIKELIHOODS}, got {_short(self.likelihood)}")
        _check(_is_num(self.leaky_slope) and 0 <= self.leaky_slope < 1,
               "leaky_slope must be in [0, 1)")
        _check(_is_num(self.gaussian_var) and 1e-4 <= self.gaussian_var <= 100,
               "gaussian_var must be in [1e-4, 100]")
        _check(_is_num(self.dropout) and 0 <= self.dropout < 1, "dropout must be in [0, 1)")
        _check(isinstance(self.conditional, bool),
               f"conditional must be true or false, got {_short(self.conditional)}")
        _check(_is_int(self.n_classes) and 2 <= self.n_classes <= MAX_CLASSES,
               f"n_classes must be an integer in 2..{MAX_CLASSES}, got {_short(self.n_classes)}")
        _check(_is_int(self.conv_dense) and 0 <= self.conv_dense <= MAX_WIDTH,
               f"conv_dense must be in 0..{MAX_WIDTH}")
        if self.arch == "mlp":
            _check(_int_list(self.hidden, 1, MAX_WIDTH) and 1 <= len(self.hidden) <= MAX_LAYERS,
                   f"hidden must be 1..{MAX_LAYERS} widths in 1..{MAX_WIDTH}, "
                   f"got {_short(self.hidden)}")
        else:
            _check(_int_list(self.channels, 1, MAX_CHANNELS)
                   and 1 <= len(self.channels) <= MAX_LAYERS,
                   f"channels must be 1..{MAX_LAYERS} counts in 1..{MAX_CHANNELS}")
            _check(_int_list(self.strides, 1, 2) and len(self.strides) in (0, len(self.channels)),
                   "strides must be empty or one of 1 or 2 per conv layer")
            _check(_is_int(self.kernel_size) and self.kernel_size in (3, 5, 7),
                   "kernel_size must be 3, 5 or 7")
            sizes = self.conv_sizes()
            _check(sizes[-1] >= 1, "too many stride-2 layers for a 28x28 image")

    def conv_sizes(self) -> list[int]:
        """Spatial size after each conv layer, starting with the input size."""
        sizes = [IMAGE_SIZE]
        pad = self.kernel_size // 2
        for s in self.conv_strides():
            sizes.append((sizes[-1] + 2 * pad - self.kernel_size) // s + 1)
        return sizes

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        return cls(**_known_fields(cls, data))


@dataclass
class TrainConfig:
    """How a model is trained. `limit` uses only the first N training images (0 = all)."""

    # The defaults are the fast recipe (docs/models.md): a 2-D MLP reaches test -ELBO < 142 in
    # about 15-30 s on 2 cores. Large batches keep the CPU's matmuls efficient; the one-cycle
    # schedule makes their 10x larger learning rate safe.
    epochs: int = _num(15, "Epochs", 1, 100_000, help="total epochs (also on resume)")
    batch_size: int = _num(512, "Batch size", 1, 65_536)
    optimizer: str = _opt("adam", "Optimizer", OPTIMIZERS)
    lr: float = _num(1e-2, "Learning rate", 1e-6, 10.0, 1e-4, "%g",
                     help="the peak learning rate (the schedule scales it)")
    # With the summed loss of this library, beta = 1.0 is the true ELBO.
    beta: float = _num(1.0, "β (KL weight)", 0.0, 1000.0, 0.1,
                       help="1 is the true ELBO; >1 is a β-VAE")
    warmup_epochs: float = _num(0.0, "KL warm-up epochs", 0.0, 1000.0, 1.0,
                                help="β ramps linearly from 0 over this many epochs")
    binarize: str = _opt("none", "Binarization", BINARIZE,
                         "none: grey levels; static: one fixed draw; dynamic: a new draw "
                         "every batch")
    seed: int = _num(0, "Seed", 0, 2**31 - 1)
    device: str = _opt("auto", "Device", DEVICES)
    limit: int = _num(0, "Training images (0 = all)", 0, 10_000_000, 100,
                      help="use only the first N training images")
    dataset: str = _opt("mnist", "Dataset", DATASETS)
    iw_samples: int = _num(1, "Importance samples", 1, 5000,
                           help=">1 trains the importance-weighted bound (IWAE, Burda et al. "
                                "2015)")
    lr_decay: float = _num(1.0, "LR decay per epoch", 0.01, 1.0, 0.01,
                           help="multiplicative learning-rate decay after every epoch (on top "
                                "of the schedule)")
    lr_schedule: str = _opt("onecycle", "LR schedule", LR_SCHEDULES,
                            "the learning rate over the whole run, step by step: constant; "
                            "cosine: from lr down to 0; onecycle: up from lr/25 over the first "
                            "quarter, then a cosine down to 0")
    grad_clip: float = _num(0.0, "Gradient clip (0 = off)", 0.0, 1e6,
                            help="max global gradient norm")
    precision: str = _opt("auto", "Precision", PRECISIONS,
                          "bf16 = bfloat16 autocast; auto = bf16 where the hardware has it "
                          "(CPUs with AMX or AVX512-BF16, GPUs with bf16), else fp32")
    augment: float = _num(0.0, "Augmentation", 0.0, 2.0, 0.1,
                          help="strength of random shifts, rotations, scaling and stroke-width "
                               "changes of each training batch (0 = off; 1 = +-2 px, +-12 "
                               "degrees, 0.9-1.1x size, a pixel thicker or thinner)")

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ConfigError if any field is out of bounds."""
        _check(_is_int(self.epochs) and 1 <= self.epochs <= 100_000, "epochs must be >= 1")
        _check(_is_int(self.batch_size) and 1 <= self.batch_size <= 65_536,
               "batch_size must be in 1..65536")
        _check(self.optimizer in OPTIMIZERS, f"optimizer must be one of {OPTIMIZERS}")
        _check(_is_num(self.lr) and 0 < self.lr <= 10, "lr must be in (0, 10]")
        _check(_is_num(self.beta) and 0 <= self.beta <= 1000, "beta must be in [0, 1000]")
        _check(_is_num(self.warmup_epochs) and self.warmup_epochs >= 0,
               "warmup_epochs must be >= 0")
        _check(self.binarize in BINARIZE, f"binarize must be one of {BINARIZE}")
        _check(_is_int(self.seed) and 0 <= self.seed < 2**63, "seed must be a non-negative int")
        _check(self.device in DEVICES, f"device must be one of {DEVICES}")
        _check(_is_int(self.limit) and self.limit >= 0, "limit must be >= 0 (0 = all images)")
        _check(self.dataset in DATASETS, f"dataset must be one of {DATASETS}")
        _check(_is_int(self.iw_samples) and 1 <= self.iw_samples <= 5000,
               "iw_samples must be in 1..5000")
        _check(_is_num(self.lr_decay) and 0 < self.lr_decay <= 1, "lr_decay must be in (0, 1]")
        _check(self.lr_schedule in LR_SCHEDULES,
               f"lr_schedule must be one of {LR_SCHEDULES}, got {_short(self.lr_schedule)}")
        _check(_is_num(self.grad_clip) and self.grad_clip >= 0, "grad_clip must be >= 0")
        _check(self.precision in PRECISIONS, f"precision must be one of {PRECISIONS}")
        _check(_is_num(self.augment) and 0 <= self.augment <= 2, "augment must be in [0, 2]")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        data = _known_fields(cls, data)
        # A config.json from before lr_schedule existed was trained with a constant rate.
        data.setdefault("lr_schedule", "constant")
        return cls(**data)


# What may change when a run is resumed: the schedule and the hardware, never the model, the
# data or the objective (a resumed run must stay the continuation of the one it resumes).
RESUMABLE = ("epochs", "lr", "lr_decay", "lr_schedule", "batch_size", "device", "precision")


def resume_config(saved: TrainConfig, given: TrainConfig) -> TrainConfig:
    """The config a resumed run trains with: `saved` (the checkpoint's) with the RESUMABLE
    fields of `given`. ConfigError naming every other field in which they differ."""
    old, new = saved.to_dict(), given.to_dict()
    diff = [k for k in old if k not in RESUMABLE and old[k] != new[k]]
    if diff:
        said = ", ".join(f"{k} ({_short(old[k], 20)} in the checkpoint, {_short(new[k], 20)} "
                         f"given)" for k in diff)
        raise ConfigError(f"cannot change {said} when resuming; only {', '.join(RESUMABLE)} "
                          "may change")
    return TrainConfig.from_dict({**old, **{k: new[k] for k in RESUMABLE}})


def _short(v: Any, limit: int = 60) -> str:
    """repr() for error messages: one line (repr escapes newlines), at most `limit` chars, since
    a config.json's values and field names come from whoever wrote the file."""
    s = repr(v)
    return s if len(s) <= limit else s[:limit - 3] + "..."


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:  # an int too large for a float (JSON allows any size)
        return False


def _int_list(v: Any, lo: int, hi: int) -> bool:
    return isinstance(v, list) and all(_is_int(x) and lo <= x <= hi for x in v)
