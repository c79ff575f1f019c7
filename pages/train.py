"""Train: pick every setting, train in a background thread, watch it live, save the result."""

import streamlit as st

from ui.config_form import configs_from, settings_form
from ui.keys import MISSING_KEY
from ui.sidebar import active_model
from ui.train_panel import run_panel, session_owner
from ui.training import load_data, manager
from vae_core import (ConfigError, DataNotFoundError, TrainingBusy, count_params,
                      download_dataset, download_root, missing_data_help)


ck = active_model(conditional_ok=True)
st.title("Train")
st.caption("Train a new VAE in the background: the other pages stay usable meanwhile. One run "
           "at a time per server; each complete epoch is checkpointed, so Stop keeps the last "
           "one. When it ends, save it under a name and it joins the model picker. MNIST's "
           "60,000 training digits come with the app.")
mgr = manager()
panel = st.container()  # the runs go here, above the form
latest = mgr.latest(session_owner())
submitted, values = settings_form((latest.model_cfg, latest.train_cfg) if latest else None)


def start_run() -> str | None:
    """Validate the form, load the data, start the background run; messages say what failed
    (the form's own under it; a busy training slot is returned, for the top of the page)."""
    try:
        mcfg, tcfg = configs_from(values)
        count_params(mcfg)  # shape errors (e.g. conv strides) surface here, before any data
    except ConfigError as e:
        st.error(f"These settings are not valid: {e}")
        return None
    if mgr.busy:
        return ("Not started: a training run is already in progress on this server (see "
                "below). Wait for it to finish, or stop it, before starting another.")
    try:
        train, test = load_data(tcfg.dataset, tcfg.limit)
    except DataNotFoundError as e:
        st.session_state[MISSING_KEY] = (tcfg.dataset, str(e))
        return None
    st.session_state.pop(MISSING_KEY, None)
    try:
        mgr.start(mcfg, tcfg, train, test, owner=session_owner())
    except TrainingBusy as e:
        return f"Not started: {e}."
    except ConfigError as e:
        st.error(f"These settings are not valid: {e}")
    return None


refused = start_run() if submitted else None
if refused:  # said at the top of the page; the learner is at the form's bottom
    st.toast("Not started: the training slot is busy (the top of the page says why).",
             icon=":material/hourglass_top:")
if MISSING_KEY in st.session_state:
    dataset, why = st.session_state[MISSING_KEY]
    st.error(f"Training data not found: {why}")
    if dataset != "folder" and st.button(f"Download {dataset} ({download_root()})",
                                         key="tr_download", icon=":material/download:"):
        with st.status(f"Downloading {dataset} with torchvision...", expanded=True) as status:
            try:
                download_dataset(dataset, download_root())
            except DataNotFoundError as e:
                status.update(label="Download failed", state="error")
                st.error(str(e))
            else:
                status.update(label="Downloaded: press Start training again.",
                              state="complete")
                st.session_state.pop(MISSING_KEY, None)
    elif dataset == "folder":
        st.caption(missing_data_help(dataset, cli=False))

with panel:
    run_panel(mgr, refused)
    if latest is not None and latest.running:
        with st.expander("All settings of the running run"):
            st.json({"model": latest.model_cfg.to_dict(), "train": latest.train_cfg.to_dict()},
                    expanded=False)
    st.divider()
