"""latent-explorer: train, load and explore variational autoencoders on handwritten digits.

Run with `streamlit run app.py`. Each page is a short script in pages/.

This file is read twice. `streamlit run` imports it as a module and finds `app`, an ASGI
`st.App` whose lifespan hook imports torch and the pages' modules before the server answers
its health check (the first visitor no longer waits for them). The App then runs this same
file as each session's entry script (`__main__`), which builds the navigation.
"""

from contextlib import asynccontextmanager
from pathlib import Path

import streamlit as st

# A file in the repo, not ":material/...": Streamlit fetches material favicons from
# fonts.gstatic.com, which fails offline.
ICON = Path(__file__).resolve().parent / "assets" / "favicon.png"
STYLE = ICON.with_name("app.css")  # contrast fixes over Streamlit's theme (accessibility)


@asynccontextmanager
async def warm_up(_app):
    """Preload the heavy imports in a worker thread while the server starts."""
    # Imported here, in the lifespan hook: importing ui (torch, the pages' modules) at module
    # level would delay the server's first answer, which is what this hook avoids.
    import anyio  # (all three deferred, as said above)
    from ui.lesson import ENV_LESSON, server_lesson  # deferred: the ui layer imports torch
    from ui.preload import preload  # deferred: it imports and times the heavy modules itself

    spent = await anyio.to_thread.run_sync(preload)
    print(f"  Preloaded in {sum(spent.values()):.1f} s: "
          + ", ".join(f"{k} {v:.1f} s" for k, v in spent.items() if v >= 0.1), flush=True)
    lesson, problems = server_lesson()
    if lesson or problems:  # $VAE_LESSON: every session gets this lesson
        print(f"  Lesson for every session: {lesson.query() or 'none'}"
              + (f" ({ENV_LESSON} not read in full: {'; '.join(problems)})" if problems else ""),
              flush=True)
    yield


if __name__ == "__main__":
    # Imported only as a session's entry script: `streamlit run` also imports this file as a
    # module to find `app`, and must not pay for the ui layer there (see warm_up).
    from ui.navigation import app_navigation

    st.set_page_config(page_title="latent-explorer", page_icon=str(ICON), layout="wide")
    st.html(STYLE)
    app_navigation().run()
else:
    app = st.App(__file__, lifespan=warm_up)
