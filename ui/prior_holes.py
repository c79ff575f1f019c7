"""The guided tour's step on holes in the latent space, told truthfully for any latent size.

A hole is where the prior N(0, I) has mass that no encoded image occupies: the decoder was
hardly ever taught what to draw there. On a 1-D or 2-D latent a density ratio finds them: a
prior sample is in a hole when p(z) exceeds the aggregate posterior q(z) (the mixture of the
test set's clouds) HOLE_RATIO times (vae_core.hole_gap). In more dimensions that test flags
nearly every prior sample (each lies far from every one of a few thousand narrow clouds) even
where the decoder draws good digits, so the tour asks the reference digit classifier instead:
the share of prior samples whose decoding it reads with at least SURE confidence, beside the
same share for the test digits' reconstructions. A model the classifier cannot read (not
MNIST, or no classifier files) gets no measure, and the step says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from ui.derived import prior_check
from ui.inference import decode
from ui.figures import png, tile
from ui.readings import digit_model
from ui.state import classifier
from vae_core import HOLE_RATIO, PRIOR_RADIUS, Checkpoint, VAEError, classify, hole_share

SAMPLES = 2000
SURE = 0.9  # a decoding the classifier reads with at least this confidence is a clear digit
FEW = 0.05  # a hole share below this is called few
ROW = 6


@dataclass
class HolesTold:
    """What the step says and the code its link opens Latent sliders at."""

    text: str
    z: np.ndarray  # the most telling prior sample: the deepest hole, or the one drawn worst
    holes: bool  # measured as holes on the plane (the Sliders hole map shows them)
    measured: bool  # a measure was taken (holes or classifier readings)
    shares: dict[str, float]  # the numbers the text gives (for tests): hole, sure, test_sure


def pct(x: float) -> str:
    """A share as the text writes it: one decimal below 10% (0.6%), none above."""
    return f"{x:.1%}" if 0 < x < 0.1 else f"{x:.0%}"


def _row(ck: Checkpoint, z: np.ndarray, y: int | None, caption: str) -> np.ndarray:
    images = decode(ck, z, y)
    st.image(png(tile(images, len(images)), 2), caption=caption,
             alt=f"a row of {len(images)} decoded images: {caption}")
    return images


def _mean_sure(images: np.ndarray) -> float | None:
    """The classifier's mean confidence in a row of decodings; None without a classifier."""
    try:
        return float(classify(images, classifier())[1].max(1).mean())
    except VAEError:
        return None


def holes_story(ck: Checkpoint, y: int | None, cls: str) -> HolesTold:
    """Draw the step's two rows of decoded prior samples and say what they show."""
    zdim = ck.model_config.latent_dim
    as_cls = f" (decoded as {cls}s: this model is conditional)" if y is not None else ""
    planar = zdim <= 2
    c = prior_check(ck, SAMPLES, y, read=not planar and digit_model(ck))
    z, gap = c["z"], c["gap"]
    flagged = hole_share(gap)
    shares = {"hole": flagged}
    start = ("The prior N(0, I) and the mixture of all the encoder's clouds over the test set "
             "(the aggregate posterior) should match, but they don't quite: where the prior "
             "has mass that no image is encoded into, the decoder was hardly ever taught what "
             "to draw. ")
    if planar:
        order = np.argsort(gap)
        best = _row(ck, z[order[:ROW]], y, "the 6 prior samples the test set covers best")
        worst = _row(ck, z[order[-ROW:]], y, "the 6 deepest in holes")
        where = "line" if zdim == 1 else "plane"
        text = (start + f"On this {zdim}-D model such holes can be seen on the latent {where}: "
                f"{pct(flagged)} of {SAMPLES:,} codes drawn from the prior{as_cls} land where "
                f"the prior is over {HOLE_RATIO:g}× denser than the aggregate posterior. ")
        text += ("Compare the bottom row, the 6 deepest, with the top." if flagged >= FEW else
                 "That is few: the clouds cover the prior well here, and even the deepest "
                 "(bottom row) are drawn much like the rest.")
        read = [_mean_sure(best), _mean_sure(worst)] if digit_model(ck) else [None, None]
        if read[0] is not None and read[1] is not None:
            shares |= {"top_row": read[0], "bottom_row": read[1]}
            text += (f" The digit classifier reads the top row with {read[0]:.0%} confidence "
                     f"on average, the bottom row with {read[1]:.0%}.")
        # the link's code: the deepest where the Sliders hole map looks (|z| <= PRIOR_RADIUS)
        inside = [i for i in order[::-1] if np.linalg.norm(z[i]) <= PRIOR_RADIUS]
        return HolesTold(text, z[inside[0] if inside else order[-1]], True, True, shares)
    ratio = (f"in {zdim} dimensions every prior sample lies far from each of the test set's "
             f"narrow clouds, so the test used on a plane (the prior over {HOLE_RATIO:g}× "
             f"denser than the aggregate posterior) " + (
                 f"would call nearly every one of {SAMPLES:,} prior samples a hole"
                 if flagged >= 0.9 else f"flags {pct(flagged)} of {SAMPLES:,} prior samples"))
    if c["sure"] is None:
        _row(ck, z[:ROW], y, "6 prior samples")
        _row(ck, z[ROW:2 * ROW], y, "6 more")
        why = ("the reference classifier reads only digits" if not digit_model(ck) else
               "the reference classifier's files are missing or damaged")
        return HolesTold(start + f"A density ratio tells little here: {ratio}. And {why}, so "
                         "this model's holes are not measured: judge these 12 prior samples "
                         "yourself.", z[0], False, False, shares)
    sure, base = c["sure"], c["test_sure"]
    order = np.argsort(sure, kind="stable")
    _row(ck, z[order[::-1][:ROW]], y,
         f"the 6 the classifier is surest of ({sure[order[::-1][:ROW]].mean():.0%} on average)")
    _row(ck, z[order[:ROW]], y,
         f"the 6 it is least sure of ({sure[order[:ROW]].mean():.0%} on average)")
    share, test_share = float((sure >= SURE).mean()), float((base >= SURE).mean())
    shares |= {"sure": share, "test_sure": test_share}
    most = "most" if share >= 0.5 else "many"
    text = (start + f"A density ratio cannot find holes here: {ratio}, yet {most} of them "
            "decode to clear digits. So the tour asks the reference digit classifier "
            f"instead: it reads {pct(share)} of {SAMPLES:,} prior samples{as_cls} with at "
            f"least {SURE:.0%} confidence, against {pct(test_share)} of the test digits' "
            "reconstructions. ")
    gap_pts = test_share - share
    text += (f"That is {gap_pts * 100:.0f} points fewer: roughly that share of the prior lies "
             "where the decoder was rarely taught and draws poorly (the bottom row, against "
             "the top)." if gap_pts >= FEW else
             "No sign of holes, then: the prior's samples decode as clearly as the test "
             "digits; even the least clear (bottom row) are much like the rest.")
    return HolesTold(text, z[order[0]], False, True, shares)
