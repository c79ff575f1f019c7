"""latent-explorer: train, load and explore variational autoencoders on handwritten digits.

Run with `streamlit run app.py`. Each page is a short script in pages/.
"""

import streamlit as st

st.set_page_config(page_title="latent-explorer", page_icon="🔢", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="How a VAE works", icon="🏠", default=True),
    st.Page("pages/train.py", title="Train", icon="🏋️"),
    st.Page("pages/sliders.py", title="Latent sliders", icon="🎚️"),
    st.Page("pages/manifold.py", title="Manifold", icon="🗺️"),
    st.Page("pages/scatter.py", title="Latent scatter", icon="🔵"),
    st.Page("pages/reconstruct.py", title="Reconstruct", icon="✍️"),
    st.Page("pages/generate.py", title="Generate", icon="✨"),
    st.Page("pages/compare.py", title="Compare", icon="⚖️"),
]

st.navigation(PAGES).run()
