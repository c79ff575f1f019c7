"""Latent sliders: set every coordinate of z by hand and watch the decoder's image change.
The latent pad (ui/latent_pad) decodes in the browser while you drag; z comes back on release
into SL_CODE, its one owner. Decoders it cannot export fall back to server-side sliders."""

import math

import streamlit as st
import torch
from streamlit_image_coordinates import streamlit_image_coordinates

from ui import class_maps, plane_layers, readings, sidebar
from ui.classes import class_labels, class_picker
from ui.derived import inactive_dims, latent_map
from ui.inference import decode
from ui.figures import png
from ui.keys import SL_CLASS, SL_CODE, SL_DIGIT, SL_DRAWS, SL_MAP, SL_MAP_DONE, SL_RANGE, z_key
from ui.latent_map import click_to_latent, map_extent, mark_point
from ui.latent_pad import latent_pad, unavailable as pad_unavailable
from ui.share import copy_link, sliders_query
from ui.state import encoded, test_set_or_stop

MAP_TILES, MAP_SIZE, MAX_RANGE = 15, 420, 10.0  # the 2-D map's tiles and pixels; widest ±R

ck = sidebar.active_model(conditional_ok=True)
zdim = ck.model_config.latent_dim
server_only = pad_unavailable(ck)  # why this decoder cannot run in the browser, or None
off = inactive_dims(ck)  # unused dimension -> its KL: marked on its slider, KL said below
dims = [f"z{i} · inactive" if i in off else f"z{i}" for i in range(zdim)]
st.title("Latent sliders")
where = "under the sliders" if zdim == 2 and server_only else "on the right"
st.caption(f"One slider per latent dimension of **{ck.name}** (z has {zdim} dimensions). The "
           f"decoder turns the point into the mean image {where}. Under the prior N(0, I) "
           "almost all codes lie within ±3." + (
               f" **{len(off)} of {zdim}** dimensions are *inactive*: the encoder hardly moves "
               f"them (KL from the prior at most {max(off.values()):.2g} nats each, on the test "
               "digits), so their sliders change little." if off else ""))
if ck.model_config.conditional:
    st.caption("A **conditional** VAE: pick the class below and z sets only its style "
               "(slant, width, stroke). The same z in another class is the same handwriting.")

last = st.session_state.get(SL_CODE) or []  # z: its one owner (links, buttons, the pad write it)
st.session_state[SL_CODE] = [float(last[i]) if i < len(last) else 0.0 for i in range(zdim)]
for i in range(zdim) if server_only else ():  # the server sliders' keys (dropped off-page)
    st.session_state.setdefault(z_key(i), st.session_state[SL_CODE][i])
st.session_state.setdefault(SL_RANGE, 3.0)
st.session_state.setdefault(SL_DRAWS, 0)


def set_code(values) -> None:
    """Callback helper: write z (and widen the range to fit it) before rendering."""
    values = [round(float(v), 2) for v in values]
    need = max((abs(v) for v in values), default=0.0)
    if need > st.session_state[SL_RANGE]:
        st.session_state[SL_RANGE] = min(float(math.ceil(need)), MAX_RANGE)
    st.session_state[SL_CODE] = values
    for i, v in enumerate(values if server_only else ()):  # the server sliders show it
        st.session_state[z_key(i)] = v


def keep_code() -> None:
    """Range callback: the sliders' bounds change, their values don't (clipped if they must)."""
    r = st.session_state[SL_RANGE]
    set_code([min(max(v, -r), r) for v in st.session_state[SL_CODE]])


def draw_prior() -> None:
    st.session_state[SL_DRAWS] += 1
    g = torch.Generator().manual_seed(st.session_state[SL_DRAWS])
    r = st.session_state[SL_RANGE]
    set_code(torch.randn(zdim, generator=g).clamp(-r, r).tolist())


def from_digit() -> None:
    mu, _ = encoded(ck)
    set_code(mu[st.session_state[SL_DIGIT]])


def on_map_click() -> None:
    click = st.session_state.get(SL_MAP)
    if not click or click.get("unix_time") == st.session_state.get(SL_MAP_DONE):
        return  # a rerun replays the last click: apply each click once
    st.session_state[SL_MAP_DONE] = click.get("unix_time")
    e = map_extent(st.session_state[SL_RANGE], MAP_TILES)
    x, y = click_to_latent(click, e, MAP_SIZE)
    r = st.session_state[SL_RANGE]
    set_code([min(max(x, -r), r), min(max(y, -r), r)])


@st.fragment
def pad_view(r: float, y: int | None, layers: plane_layers.PadLayers) -> None:
    """The pad and what depends on z: a release reruns this alone, not the controls above."""
    z = st.session_state[SL_CODE]
    latent_pad(ck, z, r, dims, on_release=set_code, label=y, layers=layers)
    if not readings.pad_reads(ck):  # no reading in the pad: say why
        st.markdown(readings.decoded_reading(ck, z, y))
    shown = ", ".join(f"{v:.2f}" for v in z[:16]) + (", …" if zdim > 16 else "")
    what = "the red ring or a slider" if zdim == 2 and ck.model.has_encoder else "a slider"
    st.caption(f"z on the server: ({shown}). Drag {what}: your browser decodes every frame, "
               "and z comes back here when you let go.")
    copy_link("sliders", sliders_query(ck), key="sl_link")
    plane_layers.pad_readout(ck, z, y, layers)


@st.fragment
def explorer() -> None:
    images, labels, classes = test_set_or_stop(ck.train_config.dataset)
    y = class_picker(ck, None, SL_CLASS, horizontal=True)  # None for an unconditional model
    c = st.columns([1, 1, 1, 1.1, 1], vertical_alignment="bottom")
    c[0].button("Random draw", icon=":material/casino:", key="sl_random", on_click=draw_prior,
                width="stretch", help="z ~ N(0, I), seeded by a counter (a new seed per click)")
    c[1].button("Reset to 0", icon=":material/restart_alt:", key="sl_reset", on_click=set_code,
                args=([0.0] * zdim,), width="stretch")
    c[2].number_input("Test digit #", 0, len(images) - 1, 0, key=SL_DIGIT)
    c[3].button("Set from this digit", key="sl_from_digit", on_click=from_digit, width="stretch",
                help="the posterior mean μ of that test digit", disabled=not ck.model.has_encoder)
    r = c[4].number_input("Slider range ±R", 0.5, MAX_RANGE, step=0.5, key=SL_RANGE,
                          on_change=keep_code)
    for i in range(zdim) if server_only else ():  # st.slider refuses values off its range;
        v = st.session_state[z_key(i)]  # write only what must change (a written key goes back
        if not -r <= v <= r:  # to the browser, and would undo key presses made meanwhile)
            st.session_state[z_key(i)] = min(max(v, -r), r)
    z = [st.session_state[z_key(i)] if server_only else min(max(v, -r), r)
         for i, v in enumerate(st.session_state[SL_CODE])]
    st.session_state[SL_CODE] = z
    if not server_only:
        pad_view(r, y, plane_layers.pad_controls(ck))
        return
    copy_link("sliders", sliders_query(ck), key="sl_link")
    st.caption(f"Decoded on the server (each move is a round trip): {server_only}. The "
               "hole map, round-trip field and per-pixel cost need the in-browser pad.")
    left, right = st.columns([1, 1], gap="large")
    with left:
        box = st.container(height=420) if zdim > 8 else st.container()
        z = [box.slider(label, -r, r, step=0.01, key=z_key(i)) for i, label in enumerate(dims)]
        image_box = st.container() if zdim == 2 else right
    shown = ", ".join(f"{v:.2f}" for v in z[:6]) + (", …" if zdim > 6 else "")
    image_box.image(png(decode(ck, [z], y)[0], 8), output_format="PNG", alt="decoded image",
                    caption=f"decoded mean image at z = ({shown})")
    image_box.markdown(readings.decoded_reading(ck, z, y, class_labels(ck)))
    if zdim == 2:
        with right:
            base = latent_map(ck, r, MAP_TILES, MAP_SIZE, y)
            streamlit_image_coordinates(mark_point(base, z[0], z[1], map_extent(r, MAP_TILES)),
                                        key=SL_MAP, on_click=on_map_click, cursor="crosshair")
            class_maps.class_key(classes, MAP_SIZE)
            st.caption("The latent plane: the decoder's output on a grid (grey), encoded test "
                       "digits coloured by class, and the current z (red ring); z0 runs "
                       "across, z1 up. Click anywhere to move there.")


explorer()
