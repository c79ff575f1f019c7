"""The Train page's time to quality (ui.train_panel.quality_line): the best test -ELBO so far,
when it came, and when a 2-D MNIST run first reached the defaults' target."""

from __future__ import annotations

from ui.train_panel import QUALITY_TARGET, fmt_seconds, quality_line


def hist(*losses: float | None) -> list[dict]:
    return [{"epoch": i + 1, "test_loss": v, "wall_s": 4.0 + 2.5 * i}
            for i, v in enumerate(losses)]


def test_nothing_before_the_first_scored_epoch() -> None:
    assert quality_line([]) is None
    assert quality_line(hist(None)) is None  # trained without a test set


def test_best_so_far_and_the_first_epoch_at_the_target() -> None:
    line = quality_line(hist(160.0, 145.2, 141.9, 141.2, 141.5))
    assert line == ("Best test -ELBO 141.2 after epoch 4 (11.5 s after Start) · first ≤ 142 "
                    "after epoch 3, 9.0 s after Start")


def test_not_reached_and_no_target() -> None:
    assert quality_line(hist(160.0, 150.04)).endswith("· not yet ≤ 142")
    assert quality_line(hist(110.0), target=None) == \
        "Best test -ELBO 110.0 after epoch 1 (4.0 s after Start)"
    assert QUALITY_TARGET == 142.0


def test_seconds_then_minutes() -> None:
    assert fmt_seconds(27.44) == "27.4 s"
    assert fmt_seconds(75) == "1:15"
    assert fmt_seconds(None) == "–"  # an epoch of an earlier run (resumed): no wall time
