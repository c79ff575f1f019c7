"""CSV and TensorBoard loggers (vae_core.loggers) on a tiny real training run: what they write
reads back equal to the Trainer's history, and a logger that cannot write never stops training.
"""

from __future__ import annotations

import csv
import math
import shutil
from pathlib import Path

import pytest

from vae_core import Callback, ConfigError, ModelConfig, TrainConfig, Trainer
from vae_core.loggers import CSV_COLUMNS, CSV_NAME, CSVLogger, TensorBoardLogger, make_loggers

pytestmark = pytest.mark.usefixtures("one_torch_thread")

N_TRAIN, N_TEST = 200, 100


def tiny_trainer(train, test, subset, callbacks, epochs: int = 2, resume=None, out_dir=None,
                 **model) -> Trainer:
    mcfg = ModelConfig(arch="mlp", hidden=[16], latent_dim=2, **model)
    tcfg = TrainConfig(epochs=epochs, batch_size=64, device="cpu", seed=3,
                       lr_schedule="constant")
    return Trainer(mcfg, tcfg, subset(train, N_TRAIN), subset(test, N_TEST), out_dir=out_dir,
                   callbacks=callbacks, resume=resume)


@pytest.fixture(scope="module")
def logged_run(tmp_path_factory, mnist_train, mnist_test, subset):
    """One 2-epoch run with make_loggers: (log_dir, trainer)."""
    log_dir = tmp_path_factory.mktemp("logs") / "run"
    trainer = tiny_trainer(mnist_train, mnist_test, subset, make_loggers(log_dir))
    trainer.run()
    return log_dir, trainer


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_make_loggers_returns_both(tmp_path):
    loggers = make_loggers(tmp_path)
    assert [type(cb) for cb in loggers] == [CSVLogger, TensorBoardLogger]
    assert not any(tmp_path.iterdir())  # nothing is written before training starts


def test_tensorboard_missing_is_one_clear_error_before_training(tmp_path, monkeypatch):
    import vae_core.loggers as loggers

    monkeypatch.setattr(loggers, "find_spec", lambda name: None)
    with pytest.raises(ConfigError, match="needs the tensorboard package: pip install"):
        make_loggers(tmp_path)


def test_csv_rows_equal_the_trainer_history(logged_run):
    log_dir, trainer = logged_run
    text = (log_dir / CSV_NAME).read_text()
    assert text.splitlines()[0] == ",".join(CSV_COLUMNS)
    rows = read_rows(log_dir / CSV_NAME)
    assert len(rows) == 2 == len(trainer.history)
    for row, rec in zip(rows, trainer.history, strict=True):
        assert int(row["epoch"]) == rec["epoch"]
        for key in ("test_loss", "test_recon", "test_kl", "train_loss", "train_recon",
                    "train_kl", "seconds"):
            assert float(row[key]) == rec[key], key  # full precision, not rounded
        assert float(row["lr"]) == trainer.train_cfg.lr
        assert float(row["beta"]) == 1.0


def test_tensorboard_events_hold_scalars_kl_per_dim_and_images(logged_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    log_dir, trainer = logged_run
    events = list(log_dir.glob("events.out.tfevents.*"))
    assert len(events) == 1
    acc = EventAccumulator(str(events[0]), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    tags = acc.Tags()
    steps = 2 * trainer.steps_per_epoch
    loss = acc.Scalars("step/loss")
    assert [e.step for e in loss] == list(range(1, steps + 1))
    assert all(math.isfinite(e.value) for e in loss)
    test_loss = acc.Scalars("epoch/test_loss")
    assert [e.step for e in test_loss] == [1, 2]
    for e, rec in zip(test_loss, trainer.history, strict=True):
        assert e.value == pytest.approx(rec["test_loss"], rel=1e-6)  # stored as float32
    for tag in ("epoch/train_loss", "epoch/test_kl", "epoch/lr", "epoch/active_units"):
        assert len(acc.Scalars(tag)) == 2, tag
    kl_tags = sorted(t for t in tags["scalars"] if t.startswith("kl_per_dim/"))
    assert kl_tags == ["kl_per_dim/z0", "kl_per_dim/z1"]
    kl_sum = sum(acc.Scalars(t)[-1].value for t in kl_tags)
    # The test set's KL per dimension adds up to the test KL of the last epoch.
    assert kl_sum == pytest.approx(trainer.history[-1]["test_kl"], rel=1e-4)
    images = acc.Images("reconstructions")
    assert [im.step for im in images] == [1, 2]
    assert images[0].width > images[0].height > 28  # digits over reconstructions, in a row
    assert "config" in "".join(tags.get("tensors", []))


def test_csv_appends_on_resume_with_one_header(tmp_path, mnist_train, mnist_test, subset):
    log_dir, out = tmp_path / "logs", tmp_path / "model"
    tiny_trainer(mnist_train, mnist_test, subset, [CSVLogger(log_dir)], epochs=1,
                 out_dir=out).run()
    resumed = tiny_trainer(mnist_train, mnist_test, subset, [CSVLogger(log_dir)], epochs=3,
                           out_dir=out, resume=out)
    resumed.run()
    lines = (log_dir / CSV_NAME).read_text().splitlines()
    assert sum(line.startswith("epoch,") for line in lines) == 1
    rows = read_rows(log_dir / CSV_NAME)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert [float(r["test_loss"]) for r in rows] == [h["test_loss"] for h in resumed.history]


class Sabotage(Callback):
    """Before the loggers' epoch-2 hooks: the CSV log folder becomes a file and TensorBoard's
    writer starts raising OSError, as a full disk or a removed folder would."""

    def __init__(self, csv_logger: CSVLogger, tb_logger: TensorBoardLogger) -> None:
        self.csv_logger, self.tb_logger = csv_logger, tb_logger

    def on_epoch_end(self, trainer, info) -> None:
        if info["epoch"] == 2:
            shutil.rmtree(self.csv_logger.log_dir)
            self.csv_logger.log_dir.write_text("now a file")

            def disk_full(*args, **kwargs):
                raise OSError(28, "No space left\non device")  # one line all the same

            self.tb_logger.writer.add_scalar = disk_full


def test_unwritable_logs_warn_once_and_training_goes_on(tmp_path, mnist_train, mnist_test,
                                                        subset, capsys):
    # At the start: a log folder that is a file (both loggers fail). Mid-run: see Sabotage.
    # One warning line per logger, the others keep logging, training finishes all 3 epochs.
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    csv_logger, tb_logger = make_loggers(tmp_path / "logs")
    healthy = CSVLogger(tmp_path / "healthy")
    callbacks = [*make_loggers(blocked), Sabotage(csv_logger, tb_logger), csv_logger,
                 tb_logger, healthy]
    metrics = tiny_trainer(mnist_train, mnist_test, subset, callbacks, epochs=3).run()
    assert metrics["epochs"] == 3 and math.isfinite(metrics["test_neg_elbo"])
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(warnings) == 4, warnings
    assert all(line.startswith("warning: ") and line.endswith("training goes on")
               for line in warnings)
    assert sum("CSV log in" in line for line in warnings) == 2
    assert sum("No space left on device" in line for line in warnings) == 1
    assert [cb.enabled for cb in (*callbacks[:2], csv_logger, tb_logger)] == [False] * 4
    assert blocked.read_text() == "not a folder"
    assert len(read_rows(healthy.path)) == 3
    assert tb_logger.writer is None  # closed when it failed


def test_csv_refuses_to_append_to_a_foreign_file(tmp_path, mnist_train, mnist_test, subset,
                                                 capsys):
    (tmp_path / CSV_NAME).write_text("name,score\nalice,3\n")
    tiny_trainer(mnist_train, mnist_test, subset, [CSVLogger(tmp_path)], epochs=1).run()
    assert (tmp_path / CSV_NAME).read_text() == "name,score\nalice,3\n"
    assert "other columns" in capsys.readouterr().err


def test_tensorboard_logs_a_conditional_model(tmp_path, mnist_train, mnist_test, subset):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tiny_trainer(mnist_train, mnist_test, subset, [TensorBoardLogger(tmp_path)], epochs=1,
                 conditional=True).run()
    acc = EventAccumulator(str(tmp_path))
    acc.Reload()
    assert len(acc.Images("reconstructions")) == 1
    assert len(acc.Scalars("kl_per_dim/z1")) == 1
