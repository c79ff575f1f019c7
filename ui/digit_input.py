"""Reconstruct's input: an uploaded picture or a drawing on a canvas, as a 28x28 MNIST-like
image, or a message and st.stop() while there is none (or the file is refused)."""

from __future__ import annotations

import numpy as np
import streamlit as st
from PIL import Image
from streamlit_drawable_canvas import st_canvas

from ui.derived import uploaded_image
from ui.keys import CANVAS_ROUND
from ui.wording import with_article
from vae_core import ImageError, to_gray, to_mnist

UPLOAD, DRAW = "Upload an image", "Draw a digit"


def _clear() -> None:
    """Button callback: a new, empty canvas (its toolbar's own clear needs hover, which a
    touch screen does not have)."""
    st.session_state[CANVAS_ROUND] = st.session_state.get(CANVAS_ROUND, 0) + 1


def upload_or_drawing(noun: str) -> np.ndarray:
    """The user's image [28, 28] in [0, 1] (white ink on black), from the upload or the
    canvas the "Input" radio picks; stops the page with a note until there is one."""
    source = st.radio("Input", [UPLOAD, DRAW], horizontal=True, key="reconstruct_source",
                      format_func=lambda o: o.replace("a digit", with_article(noun)))
    if source == UPLOAD:
        upload = st.file_uploader("Image (PNG, JPEG, BMP, GIF, WebP or TIFF; the content "
                                  "decides, not the extension)", type=None,
                                  key="reconstruct_upload")
        if upload is None:
            what = "a handwritten digit" if noun == "digit" else with_article(noun)
            st.info(f"Upload a picture of {what}, or switch to *Draw {with_article(noun)}*.")
            st.stop()
        try:
            return uploaded_image(upload.getvalue())  # once per file, not per rerun
        except ImageError as e:
            st.error(f"Cannot use {upload.name!r}: {e}")
            st.stop()
    # The canvas is 280 px square: its column keeps that width on a tablet beside the sidebar.
    left, right = st.columns([3, 2])
    width = right.slider("Brush width", 8, 40, 22, 2, key="reconstruct_brush")
    right.button("Clear drawing", icon=":material/ink_eraser:", key="reconstruct_clear",
                 on_click=_clear, width="stretch")
    right.caption(f"Draw one {noun} with the mouse, a finger or a pen, large and centred. "
                  "*Clear drawing* starts again; the toolbar above the square (on hover or "
                  "keyboard focus) also undoes a stroke. The page updates when you lift the pen.")
    with left:
        # Room for the canvas toolbar, which floats above the square on hover and would
        # otherwise cover the "Input" choice.
        st.space(36)
        canvas = st_canvas(stroke_width=width, stroke_color="#FFFFFF",
                           background_color="#000000", width=280, height=280,
                           drawing_mode="freedraw", return_image_data=True,
                           key=f"reconstruct_canvas_{st.session_state.get(CANVAS_ROUND, 0)}")
    try:
        if canvas.image_data is None:
            raise ImageError("nothing drawn yet")
        return to_mnist(to_gray(Image.fromarray(np.asarray(canvas.image_data, np.uint8))))
    except ImageError:
        st.info(f"Draw {with_article(noun)} on the black square (white ink, as in MNIST).")
        st.stop()
