"""latent-explorer: train, load and explore variational autoencoders on handwritten digits.

Run with `streamlit run app.py`. Each page is a short script in pages/.
"""

import streamlit as st

st.set_page_config(page_title="latent-explorer", page_icon=":material/blur_on:", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="How a VAE works", icon=":material/school:", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/sliders.py", title="Latent sliders", icon=":material/tune:"),
    st.Page("pages/manifold.py", title="Manifold", icon=":material/grid_on:"),
    st.Page("pages/scatter.py", title="Latent scatter", icon=":material/scatter_plot:"),
    st.Page("pages/reconstruct.py", title="Reconstruct", icon=":material/draw:"),
    st.Page("pages/generate.py", title="Generate", icon=":material/auto_awesome:"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare:"),
]

st.navigation(PAGES).run()
