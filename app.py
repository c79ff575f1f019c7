"""latent-explorer: train, load and explore variational autoencoders on handwritten digits.

Run with `streamlit run app.py`. Each page is a short script in pages/.
"""

from pathlib import Path

import streamlit as st

from ui.navigation import app_navigation

# A file in the repo, not ":material/...": Streamlit fetches material favicons from
# fonts.gstatic.com, which fails offline.
ICON = Path(__file__).resolve().parent / "assets" / "favicon.png"
st.set_page_config(page_title="latent-explorer", page_icon=str(ICON), layout="wide")

app_navigation().run()
