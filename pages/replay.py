"""Training replay: how a saved model's posterior, losses and KL per dimension moved while it
trained, on a timeline to scrub or play."""

import streamlit as st

from ui.replay_view import model_replay, replay_classes, replay_view
from ui.sidebar import active_model

ck = active_model(conditional_ok=True)
st.title("Training replay")
replay = model_replay(ck)
shrink = "the ellipses shrink: a small σ means a precise code, paid for in KL."
watch = (f"This is a conditional model: the label goes in beside the image, so the clouds show "
         f"the *style* code and the classes overlap by design. Watch {shrink}"
         if ck.model_config.conditional else
         f"Watch the classes separate as the reconstruction improves, and {shrink}")
st.markdown(
    f"While **{ck.name}** trained, the same {len(replay.index)} test images (a seeded choice) "
    f"were encoded {len(replay)} times, every {replay.every} steps and at each epoch end. "
    "Each dot is one image's posterior mean μ, each ellipse its 1σ spread; the grey circles "
    f"are the prior N(0, I) that the KL term pulls every posterior towards. {watch} Play runs "
    "in your browser; drag the timeline or the loss curves, or use the arrow keys, Home and "
    "End on the timeline, to step through the snapshots.")
replay_view(replay, replay_classes(replay.dataset, replay.labels), key="rp", link=ck.name,
            source=str(ck.path), autoplay=True)
