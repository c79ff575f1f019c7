"""Shareable state: a page's URL query parameters restore what it shows, and a "Copy link"
button hands out the current view.

Plain, readable parameters, e.g. `/sliders?model=mnist-mlp-2d&z=1.23,-0.77`:

    model  a model's folder name (bundled first, then yours); left out: the default model
    z      the latent code, comma-separated, one number per dimension
    digit  a test-set index: the home page follows it; Latent sliders starts from its
           posterior mean when z is absent
    step   a training step: Training replay opens at the snapshot nearest to it
    seed   an integer seed: the home page's seed of ε
    label  a class, by index or name, for a conditional model
    hide, lock  a lesson (ui/lesson.py): hide=train,upload leaves pages (by name) and the
           upload out, lock=model keeps the link's model (no picker); every page keeps them
           in the address, and Copy link carries them

Each view's own controls (ui/view_links.py maps each parameter to its widget); switches
take on/off, choices the words shown, a class its name or index:

    manifold  view=manifold|style (a conditional model), label (its class), classmap=on|off,
              grid (N of the N x N tiles), range (L), spacing=linear|quantile,
              plane=axes|pca and dim_x, dim_y (more than 2 dimensions);
              style view: rows, styles=even|random, seed, radius
    scatter   projection=pca|tsne (more than 2 dimensions), points (how many), opacity,
              holes=on, field=on, field_class (2-D models; field_class for a conditional one)
    generate  tab=prior|posterior|interpolation|traversal, label=all or a class (conditional);
              prior: n, seed, per_row; posterior: digit, n, seed, pixels=on;
              interpolation: from, to, steps; traversal: around=zero|digit, digit (alone:
              around=digit), steps, range
    sliders   holes=on, field=on (2-D models), cost=on, cost_digit (besides z, digit, label)
    compare   kl=on (KL per dimension computed)

"Copy link" writes the model and what differs from a page's values without a link (no
z of zeros, no default seed), and the session's lesson.

app.py follows a URL once per session and page (`follow_link`): after that the controls are
the user's. A parameter that cannot be used, or that the page had to change (a z beyond the
sliders' range, a step past the end of training), is named in one warning; the page still
opens. The lesson lasts for the whole session.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import streamlit as st

from ui.keys import APPLIED_KEY, MODEL_KEY, SL_CODE
from ui.lesson import current as current_lesson, link_lesson, parse_lesson
from ui.publish import link_params, upload_note
from ui.state import available_models, default_model, get_model
from ui.view_links import apply, names, seed_widgets, view_query
from vae_core import EVAL_SEED, Checkpoint, VAEError

MAX_DIMS = 512  # a longer z is refused (no model of this app has more dimensions)
EVERY_PAGE = {"model", "hide", "lock"}  # what every page reads; the rest is ui.view_links'



@dataclass
class Shared:
    """What a URL asks for; `problems` names the parameters that could not be read."""

    model: str | None = None
    z: list[float] | None = None
    digit: int | None = None
    step: int | None = None
    seed: int | None = None
    label: str | None = None
    hide: frozenset[str] = frozenset()
    lock: frozenset[str] = frozenset()
    problems: list[str] = field(default_factory=list)


def parse(params: Mapping[str, str]) -> Shared:
    """Read query parameters (pure: no Streamlit); a bad value is left out and explained."""
    s = Shared()
    if params.get("model"):
        s.model = str(params["model"]).strip()
    if params.get("z"):
        try:
            z = [float(v) for v in str(params["z"]).split(",")]
        except ValueError:
            s.problems.append(f"z={params['z']!r} is not a list of numbers")
        else:
            if not 0 < len(z) <= MAX_DIMS or not all(math.isfinite(v) for v in z):
                s.problems.append(f"z needs 1 to {MAX_DIMS} finite numbers")
            else:
                s.z = z
    for name in ("digit", "step", "seed"):
        if params.get(name):
            try:
                v = int(str(params[name]))
            except ValueError:
                s.problems.append(f"{name}={params[name]!r} is not a whole number")
                continue
            if v < 0 or v > 2**31 - 1:
                s.problems.append(f"{name}={v} is out of range")
            else:
                setattr(s, name, v)
    if params.get("label"):
        s.label = str(params["label"]).strip()
    lesson, problems = parse_lesson(params)
    s.hide, s.lock = lesson.hide, lesson.lock
    s.problems += problems
    return s


def query(model: str | None = None, z: Sequence[float] | None = None,
          digit: int | None = None, seed: int | None = None, label: str | None = None,
          step: int | None = None,
          hide: Sequence[str] = ()) -> dict[str, str]:
    """Query parameters for a view (what `parse` reads back); z is rounded to 2 decimals,
    as the sliders step."""
    q: dict[str, str] = {}
    if model:
        q["model"] = model
    if z is not None:
        q["z"] = ",".join(f"{float(v):.2f}".replace("-0.00", "0.00") for v in z)
    for k, v in (("digit", digit), ("step", step), ("seed", seed), ("label", label)):
        if v is not None:
            q[k] = str(v)
    if hide:
        q["hide"] = ",".join(sorted(hide))
    return q


def link(base_url: str, page: str, params: Mapping[str, str]) -> str:
    """The absolute URL of `page` (a URL path such as "sliders") on the server of
    `base_url` with `params`."""
    parts = urlsplit(base_url)
    root = f"{parts.scheme}://{parts.netloc}" if parts.netloc else ""
    return f"{root}/{page.strip('/')}" + (f"?{urlencode(params, safe=',')}" if params else "")


def find_model(name: str, models: Mapping[str, str]) -> str | None:
    """The checkpoint folder called `name` among the picker's models (label -> path), a
    bundled one first."""
    hits = sorted((("(bundled)" not in label), p) for label, p in models.items()
                  if Path(p).name == name)
    return hits[0][1] if hits else None


def warn(shared: Shared | None) -> None:
    """One warning naming what the URL asked for and this page could not use."""
    if shared is not None and shared.problems:
        st.warning("This link could not be followed in full: " + "; ".join(shared.problems)
                   + ".", icon=":material/link_off:")


def copy_link(page: str, params: Mapping[str, str], key: str) -> str:
    """A "Copy link" popover holding this view's URL (the code box has a copy button) and
    the session's lesson; returns the URL."""
    params = {**params, **{k: v for k, v in link_lesson().query().items() if k not in params}}
    params = link_params(params)  # ui.publish: a published upload goes by its shared name
    url = link(st.context.url or "", page, params)
    with st.popover("Copy link", icon=":material/link:", key=key):
        st.code(url, language=None, wrap_lines=True)
        if not upload_note(key):  # an unpublished upload: this browser only, and Publish
            st.caption("Copy it with the icon at the box's right. Whoever opens it sees "
                       "this view: the same model, point and settings. A lesson link "
                       "(pages left out, the model kept) is in the sidebar's Lesson link.")
    return url


def view_link(page: str, ck: Checkpoint) -> str:
    """Give the page's linkable widgets their values (ui.view_links) and draw its "Copy
    link"; call it before the page draws those widgets. Returns the URL."""
    seed_widgets(page, ck)
    return copy_link(page, {"model": ck.name} | view_query(page, ck), key=f"{page}_link")


def sliders_query(ck: Checkpoint) -> dict[str, str]:
    """The Latent sliders page's link: model, z (its slider keys; none at the origin, where
    the page opens without a link), class and pad layers."""
    z = [float(v) for v in st.session_state.get(SL_CODE, [])] or [0.0]
    at_origin = all(round(v, 2) == 0 for v in z)
    return query(ck.name, None if at_origin else z) | view_query("sliders", ck)


def home_query(ck: Checkpoint, digit: int, seed: int) -> dict[str, str]:
    """The home page's link: model, test image and seed of ε, each only when it differs from
    the page's value without a link (test image #0, the evaluation seed)."""
    return query(ck.name, digit=digit or None, seed=None if seed == EVAL_SEED else seed)


def follow_link(page: str) -> None:
    """Called by app.py before `page` runs: the first time this session opens `page` with a
    query, make its model the active one and give the page its state (ui.view_links: its
    widgets, the sliders' z or a test digit's code, a replay's step); one warning names what
    could not be used."""
    params = st.query_params.to_dict()
    if not params:
        return
    lesson = current_lesson()  # a lesson that keeps its model keeps it, whatever the link
    # The lesson's parameters are left out of what marks a link as followed: every page
    # writes them into the address (ui.lesson.keep_in_url), which makes no new link.
    kept = {"hide", "lock"} | ({"model"} if lesson.locked else set())
    done = st.session_state.setdefault(APPLIED_KEY, {})
    sig = sorted((k, v) for k, v in params.items() if k not in kept)
    if done.get(page) == sig:
        return
    done[page] = sig
    shared = parse({k: v for k, v in params.items() if k in EVERY_PAGE})
    wanted = lesson.model if lesson.locked and lesson.model else shared.model
    if shared.model and wanted != shared.model:
        shared.problems.append(f"model={shared.model!r} is not this lesson's: it keeps "
                               f"{wanted}")
    models = available_models()
    path = find_model(wanted, models) if wanted else None
    if wanted and path is None:
        shared.problems.append(f"no model called {wanted!r} here; the default is shown")
    if path is not None:
        st.session_state[MODEL_KEY] = path
    current = st.session_state.get(MODEL_KEY) or default_model()
    try:
        ck = get_model(current)
    except VAEError as e:  # the page's own picker says so too
        shared.problems.append(f"the model cannot be loaded ({e})")
        ck = None
    if ck is not None:
        shared.problems += apply(page, params, ck)
    unused = sorted(set(params) - EVERY_PAGE - names(page))
    if unused:
        shared.problems.append(f"{', '.join(unused)} {'is' if len(unused) == 1 else 'are'} "
                               "not used by this page")
    warn(shared)
