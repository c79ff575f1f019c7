"""The one navigation every session goes through, and the shared link it follows.

app.py builds the navigation from `ui.keys.PAGES` (the session's lesson may hide pages), then
follows the link the session opened (ui.share): navigation sits above the link layer.

A page opened first on a fresh server by its own URL (e.g. /sliders) is run by Streamlit's
older pages/-folder mode, without app.py (so without its page config, titles and icons).
`ensure_entry()` notices that (app.py never ran in this session) and calls `st.navigation`
itself, which is the public way to leave that mode for the whole server; the rerun then runs
app.py, which routes to the same URL.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ui.keys import ENTRY_KEY, PAGES
from ui.lesson import current, keep_in_url, note_page
from ui.share import follow_link
from vae_core import app_root

ROOT = app_root()  # the clone, or the installed copy of the app (vae_core.resources)


def pages() -> list:
    """The st.Page objects of the app, in menu order. A page the session's lesson leaves out
    (ui/lesson.py; the home page always stays) keeps its address but leaves the menu, and
    shows a short note instead of itself."""
    lesson = current()
    out = []
    for n, (f, t, i) in enumerate(PAGES):
        stem = Path(f).stem
        if n and lesson.hides(stem):
            out.append(st.Page(note_page(t), title=t, icon=i, url_path=stem,
                               visibility="hidden"))
        else:
            out.append(st.Page(str(ROOT / f), title=t, icon=i, default=n == 0))
    return out


def app_navigation():
    """app.py's navigation (marks the session as entered through app.py)."""
    st.session_state[ENTRY_KEY] = True
    page = st.navigation(pages())
    follow_link(page.url_path or "home")  # a shared link's model and state, once
    return page


def ensure_entry() -> None:
    """Called first on every page: reroute a deep link opened outside app.py through it, and
    keep the session's lesson in the address (a menu click drops the query)."""
    if not st.session_state.get(ENTRY_KEY):
        st.navigation(pages(), position="hidden")
        st.rerun()
    keep_in_url()
