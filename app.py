"""latent-explorer: train, load and explore variational autoencoders on handwritten digits.

Run with `streamlit run app.py`. Each page is a short script in pages/.
"""

import streamlit as st

from ui.navigation import app_navigation

st.set_page_config(page_title="latent-explorer", page_icon=":material/blur_on:", layout="wide")

app_navigation().run()
