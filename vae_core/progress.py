"""Progress of long commands on stderr, in the form its reader can use.

* On a terminal: a tqdm bar (redrawn in place), and one line per finished epoch above it.
* In a file or a pipe (a log, CI, `2> run.log`): plain lines only, one per epoch or per ~10 %
  of a long loop, never the carriage-return frames of a bar.
* Under `--json` ("off"): nothing, so stdout holds the JSON and stderr stays empty.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from tqdm import tqdm  # at the top: torch imports it anyway (torch.hub), so deferring saved nothing

from .train import Callback, Trainer

MODES = ("bar", "lines", "off")


def progress_mode(quiet: bool = False, stream: TextIO | None = None) -> str:
    """'off' when `quiet`, 'bar' when `stream` (default: stderr) is a terminal, else 'lines'."""
    if quiet:
        return "off"
    stream = sys.stderr if stream is None else stream
    try:
        return "bar" if stream.isatty() else "lines"
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return "lines"


def _tqdm(**kw: Any) -> Any:
    return tqdm(file=sys.stderr, dynamic_ncols=True, **kw)


def write_line(mode: str, text: str) -> None:
    """One line of progress on stderr (above a bar on a terminal; nothing when 'off')."""
    if mode == "bar":
        tqdm.write(text, file=sys.stderr)
    elif mode == "lines":
        print(text, file=sys.stderr, flush=True)


class Progress:
    """Progress of one loop, reported as `progress(done, total)` (cumulative counts).

    `every` is the share of the loop between two plain lines (None: no lines, e.g. when the
    caller already prints one per epoch); the bar is drawn only on a terminal.
    """

    def __init__(self, desc: str, mode: str, unit: str = "image", every: float | None = 0.1):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.desc, self.mode, self.unit, self.every = desc, mode, unit, every
        self.bar: Any = None
        self.done = 0
        self.next_line = every
        self.t0 = time.perf_counter()

    def __call__(self, done: int, total: int) -> None:
        if self.mode == "bar":
            if self.bar is None:
                self.bar = _tqdm(total=total, desc=self.desc, unit=self.unit, leave=False)
            self.bar.update(done - self.done)
        elif self.mode == "lines" and self.every and total > 0:
            share = done / total
            if share >= self.next_line - 1e-9 or done >= total:
                print(f"{self.desc}: {share:.0%} ({done:,}/{total:,} {self.unit}s, "
                      f"{time.perf_counter() - self.t0:.0f}s)", file=sys.stderr, flush=True)
                while self.next_line <= share + 1e-9:
                    self.next_line += self.every
        self.done = done

    def write(self, text: str) -> None:
        """A line of its own (e.g. an epoch's summary) that leaves the bar intact."""
        write_line(self.mode, text)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TrainProgress(Callback):
    """Trainer callback: a bar per epoch on a terminal, and one summary line per epoch."""

    def __init__(self, mode: str = "lines") -> None:
        self.mode = mode
        self.bar: Progress | None = None

    def on_step(self, trainer: Trainer, info: dict[str, float]) -> None:
        if self.mode != "bar":
            return
        if self.bar is None or info["step"] == 1:
            self._close()
            self.bar = Progress(f"epoch {info['epoch']}/{trainer.train_cfg.epochs}", "bar",
                                unit="batch", every=None)
        self.bar(int(info["step"]), trainer.steps_per_epoch)
        if info["step"] % 20 == 0 and self.bar.bar is not None:
            self.bar.bar.set_postfix(loss=f"{info['loss']:.2f}", kl=f"{info['kl']:.2f}")

    def on_epoch_end(self, trainer: Trainer, info: dict[str, Any]) -> None:
        self._close()
        test = f", test -ELBO {info['test_loss']:.2f}" if "test_loss" in info else ""
        write_line(self.mode, f"epoch {info['epoch']}/{trainer.train_cfg.epochs}: train loss "
                              f"{info['train_loss']:.2f}{test} ({info['seconds']:.1f}s)")

    def on_train_end(self, trainer: Trainer, metrics: dict[str, Any]) -> None:
        self._close()

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
