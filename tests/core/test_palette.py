"""The class palette (vae_core.CLASS_COLORS) and the loss curves' colours (ui.figures), checked
for everyone: any two stay apart under normal vision and the three colour-vision deficiencies
(colorspacious' Machado et al. 2009 simulation at full severity, distances in CAM02-UCS, where
about 1 is a just-noticeable difference), no class looks like the class map's "unsure" grey,
and each class keeps contrast where it is drawn: dots on the scatter's white and a tinted
digit's ink on black."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from colorspacious import cspace_convert

from ui.figures import CURVE_COLORS
from vae_core import CLASS_COLORS, CLASS_COLOURS

VISIONS = [None, "deuteranomaly", "protanomaly", "tritanomaly"]
UNSURE = np.array([0.6, 0.6, 0.6])  # vae_core.tint_grid fades an unsure tile's ink to it


def rgb(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)])


def seen(colours: np.ndarray, vision: str | None) -> np.ndarray:
    """Colours as CAM02-UCS coordinates, as someone with `vision` sees them."""
    if vision is not None:
        colours = np.clip(cspace_convert(colours, {"name": "sRGB1+CVD", "cvd_type": vision,
                                                   "severity": 100}, "sRGB1"), 0, 1)
    return cspace_convert(colours, "sRGB1", "CAM02-UCS")


def contrast(a: np.ndarray, b: np.ndarray) -> float:
    """WCAG 2.1 contrast ratio of two sRGB colours."""
    def lum(c: np.ndarray) -> float:
        c = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
        return float(c @ [0.2126, 0.7152, 0.0722])
    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("vision", VISIONS)
def test_classes_stay_apart_and_away_from_grey(vision: str | None) -> None:
    cols = seen(np.array([rgb(c) for c in CLASS_COLORS]), vision)
    pairs = {(i, j): float(np.linalg.norm(cols[i] - cols[j]))
             for i, j in itertools.combinations(range(10), 2)}
    assert min(pairs.values()) >= 10, sorted(pairs.items(), key=lambda kv: kv[1])[:3]
    grey = seen(UNSURE[None], vision)[0]
    assert min(np.linalg.norm(cols - grey, axis=1)) >= 8


@pytest.mark.parametrize("vision", VISIONS)
def test_the_loss_curves_stay_apart(vision: str | None) -> None:
    cols = seen(np.array([rgb(c) for c in CURVE_COLORS.values()]), vision)
    assert min(np.linalg.norm(a - b) for a, b in itertools.combinations(cols, 2)) >= 15


def test_classes_keep_contrast_on_white_and_black() -> None:
    for c in CLASS_COLORS:
        assert contrast(rgb(c), np.ones(3)) >= 2, c  # a dot on the scatter
        assert contrast(rgb(c), np.zeros(3)) >= 3, c  # a class map's ink on black
    assert len(CLASS_COLORS) == len(set(CLASS_COLORS)) == 10
    assert np.allclose(CLASS_COLOURS, [rgb(c) for c in CLASS_COLORS])


def test_the_old_palette_fails_the_check() -> None:
    """The check can fail: tab10 (the palette before) puts two classes within 2 units of each
    other for someone with protanomaly, and its class 7 is a grey."""
    tab10 = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
             "#7f7f7f", "#bcbd22", "#17becf"]
    cols = seen(np.array([rgb(c) for c in tab10]), "protanomaly")
    assert min(np.linalg.norm(a - b) for a, b in itertools.combinations(cols, 2)) < 2
