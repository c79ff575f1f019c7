"""Train: pick every setting, train in a background thread, watch it live, save the result."""

import os
import time

import streamlit as st

from ui.figures_a import recon_strip, training_figure
from ui.state import MODEL_KEY, active_model
from ui.training import (DIVERGED, FAILED, FINISHED, RUNNING, STOPPED, load_data, manager,
                         save_run)
from vae_core import (CheckpointError, ConfigError, DataNotFoundError, ModelConfig, TrainConfig,
                      TrainingBusy, count_params)
from vae_core.config import (ACTIVATIONS, ARCHS, BINARIZE, DATASETS, DEVICES, LIKELIHOODS,
                             MAX_LATENT, OPTIMIZERS, PRECISIONS)
from vae_core.data import ENV_VARS

ck = active_model()
st.title("Train")
st.caption("Train a new VAE in the background: the other pages stay usable meanwhile. One run "
           "at a time per server; each complete epoch is checkpointed, so Stop keeps the last "
           "one. When it ends, save it under a name and it joins the model picker.")
mgr = manager()
panel = st.container()  # the current run's progress goes here, above the form
M, T = ModelConfig(), TrainConfig()


def ints(text: str) -> list[int]:
    try:
        return [int(v) for v in text.replace(",", " ").split()]
    except ValueError:
        raise ConfigError(f"expected whole numbers separated by commas, got {text!r}") from None


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    m, s = divmod(int(seconds), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}" if m >= 60 else f"{m}:{s:02d}"


with st.form("train_form"):
    st.markdown("**Model**")
    c = st.columns(4)
    arch = c[0].selectbox("Architecture", ARCHS, ARCHS.index(M.arch), key="tr_arch")
    latent = c[1].number_input("Latent size", 1, MAX_LATENT, M.latent_dim, key="tr_latent")
    activation = c[2].selectbox("Activation", ACTIVATIONS, ACTIVATIONS.index(M.activation),
                                key="tr_activation")
    leaky = c[3].number_input("Leaky ReLU slope", 0.0, 0.99, M.leaky_slope, 0.05,
                              key="tr_leaky", help="only for leaky_relu")
    c = st.columns(4)
    hidden = c[0].text_input("MLP hidden widths", ", ".join(map(str, M.hidden)), key="tr_hidden",
                             help="encoder order; the decoder mirrors them (MLP only)")
    channels = c[1].text_input("Conv channels", ", ".join(map(str, M.channels)),
                               key="tr_channels", help="encoder order (conv only)")
    strides = c[2].text_input("Conv strides", "", key="tr_strides", placeholder="all 2",
                              help="1 or 2 per conv layer; empty = 2 everywhere (conv only)")
    kernel = c[3].selectbox("Conv kernel size", [3, 5, 7], [3, 5, 7].index(M.kernel_size),
                            key="tr_kernel", help="conv only")
    c = st.columns(4)
    conv_dense = c[0].number_input("Conv dense width", 0, 4096, M.conv_dense, key="tr_conv_dense",
                                   help="dense layer between the conv stack and (μ, log σ²); "
                                        "0 = none (conv only)")
    likelihood = c[1].selectbox("Likelihood", LIKELIHOODS, LIKELIHOODS.index(M.likelihood),
                                key="tr_likelihood", help="decoder distribution p(x|z)")
    gvar = c[2].number_input("Gaussian variance", 1e-4, 100.0, M.gaussian_var, 0.1, format="%g",
                             key="tr_gvar", help="decoder variance (gaussian only); 0.5 makes "
                                                 "the reconstruction term the sum of squares")
    dropout = c[3].number_input("Dropout", 0.0, 0.95, M.dropout, 0.05, key="tr_dropout")

    st.markdown("**Objective and optimization**")
    c = st.columns(4)
    beta = c[0].number_input("β (KL weight)", 0.0, 1000.0, T.beta, 0.1, key="tr_beta",
                             help="1 is the true ELBO; >1 is a β-VAE")
    warmup = c[1].number_input("KL warm-up epochs", 0.0, 1000.0, T.warmup_epochs, 1.0,
                               key="tr_warmup", help="β ramps linearly from 0 over this many")
    binarize = c[2].selectbox("Binarization", BINARIZE, BINARIZE.index(T.binarize),
                              key="tr_binarize", help="none: grey levels; static: one fixed "
                                                      "draw; dynamic: a new draw every batch")
    iw = c[3].number_input("Importance samples", 1, 5000, T.iw_samples, key="tr_iw",
                           help=">1 trains the IWAE bound (Burda et al. 2015)")
    c = st.columns(4)
    optimizer = c[0].selectbox("Optimizer", OPTIMIZERS, OPTIMIZERS.index(T.optimizer),
                               key="tr_optimizer")
    lr = c[1].number_input("Learning rate", 1e-6, 10.0, T.lr, 1e-4, format="%g", key="tr_lr")
    lr_decay = c[2].number_input("LR decay per epoch", 0.01, 1.0, T.lr_decay, 0.01,
                                 key="tr_lr_decay")
    grad_clip = c[3].number_input("Gradient clip (0 = off)", 0.0, 1e6, T.grad_clip,
                                  key="tr_grad_clip")
    c = st.columns(4)
    batch = c[0].number_input("Batch size", 1, 65536, T.batch_size, key="tr_batch")
    epochs = c[1].number_input("Epochs", 1, 10_000, T.epochs, key="tr_epochs")
    seed = c[2].number_input("Seed", 0, 2**31 - 1, T.seed, key="tr_seed")
    precision = c[3].selectbox("Precision", PRECISIONS, PRECISIONS.index(T.precision),
                               key="tr_precision", help="bf16 autocast is for GPUs")

    st.markdown("**Data**")
    c = st.columns(4, vertical_alignment="bottom")
    dataset = c[0].selectbox("Dataset", DATASETS, DATASETS.index(T.dataset), key="tr_dataset")
    limit = c[1].number_input("Training images (0 = all)", 0, 10_000_000, T.limit, 100,
                              key="tr_limit", help="use only the first N training images")
    device = c[2].selectbox("Device", DEVICES, DEVICES.index(T.device), key="tr_device")
    submitted = c[3].form_submit_button("Start training", type="primary", key="tr_start",
                                        width="stretch")

def start_run() -> None:
    """Validate the form, load the data, start the background run; messages say what failed."""
    try:
        mcfg = ModelConfig(arch=arch, latent_dim=int(latent), hidden=ints(hidden),
                           channels=ints(channels), strides=ints(strides), kernel_size=kernel,
                           conv_dense=int(conv_dense), activation=activation, leaky_slope=leaky,
                           likelihood=likelihood, gaussian_var=gvar, dropout=dropout)
        tcfg = TrainConfig(epochs=int(epochs), batch_size=int(batch), optimizer=optimizer,
                           lr=lr, beta=beta, warmup_epochs=warmup, binarize=binarize,
                           seed=int(seed), device=device, limit=int(limit), dataset=dataset,
                           iw_samples=int(iw), lr_decay=lr_decay, grad_clip=grad_clip,
                           precision=precision)
        count_params(mcfg)  # shape errors (e.g. conv strides) surface here, before any data
    except ConfigError as e:
        st.error(f"These settings are not valid: {e}")
        return
    if mgr.busy:
        st.warning("A training run is already in progress on this server (see above). Wait "
                   "for it to finish, or stop it, before starting another.")
        return
    try:
        train, test = load_data(dataset, int(limit))
    except DataNotFoundError as e:
        st.error(f"Training data not found: {e}\n\nThe repository bundles only the MNIST *test* "
                 f"set. Download the four MNIST IDX .gz files and start the app with the "
                 f"environment variable set, e.g. `{ENV_VARS.get(dataset, 'VAE_DATA_DIR')}="
                 f"/path/to/mnist streamlit run app.py`.")
        return
    try:
        mgr.start(mcfg, tcfg, train, test)
    except TrainingBusy as e:
        st.warning(f"Not started: {e}.")
    except ConfigError as e:
        st.error(f"These settings are not valid: {e}")
    else:
        st.session_state.pop("tr_save_error", None)


if submitted:
    start_run()


def save(job) -> None:
    """Save-as callback: runs before the script, so it may switch the picker's model."""
    try:
        dest = save_run(job, st.session_state.get("tr_save_name", ""))
    except CheckpointError as e:
        st.session_state["tr_save_error"] = str(e)
        return
    st.session_state.pop("tr_save_error", None)
    st.session_state[MODEL_KEY] = str(dest)


def live(job, was_running: bool) -> None:
    """Progress, charts and reconstructions; reruns every second while the job runs."""
    snap = job.progress.snapshot()
    if was_running and snap["status"] != RUNNING:
        st.rerun()  # the whole page: the Save-as form appears, polling stops
    e, spe = max(snap["epoch"], snap["start_epoch"] + 1), snap["steps_per_epoch"]
    text = (f"epoch {min(e, snap['epochs'])}/{snap['epochs']} · step {snap['step']}/{spe or '?'}"
            f" · elapsed {fmt_time(snap['elapsed'])} · ETA {fmt_time(snap['eta'])}")
    c1, c2 = st.columns([6, 1], vertical_alignment="bottom")
    c1.progress(snap["fraction"], text=text)
    if snap["status"] == RUNNING:
        c2.button("■ Stop", key="tr_stop", on_click=job.stop, width="stretch",
                  help="stop after the current step; the last complete epoch is kept")
    st.plotly_chart(training_figure(snap), key="tr_chart", config={"displayModeBar": False})
    if snap["originals"] is not None:
        done = len(snap["history"])
        st.image(recon_strip(snap["originals"], snap["recon"]),
                 caption="Top: 16 fixed test digits. Bottom: their reconstructions after epoch "
                         f"{done}." if done else "Top: 16 fixed test digits. Their "
                         "reconstructions appear after the first epoch.", output_format="PNG")


with panel:
    job = mgr.job
    if job is None:
        st.info("No training run on this server yet. Choose the settings below and press "
                "**Start training**.")
        if not os.environ.get("VAE_DATA_DIR"):
            st.caption("VAE_DATA_DIR is not set: the MNIST training set must be in a folder "
                       "that variable points to (the repository bundles only the test set).")
    else:
        snap = job.progress.snapshot()
        m, t = job.model_cfg, job.train_cfg
        layers = m.hidden if m.arch == "mlp" else m.channels
        st.subheader(f"Run {job.id}")
        st.caption(f"{m.arch.upper()} {layers} · z={m.latent_dim} · {m.likelihood} · "
                   f"β={t.beta} · {t.optimizer} lr={t.lr:g} · batch {t.batch_size} · "
                   f"{job.n_images:,} {t.dataset} images · started "
                   f"{time.strftime('%H:%M:%S', time.localtime(snap['started']))}")
        running = snap["status"] == RUNNING
        st.fragment(run_every=1.0 if running else None)(live)(job, running)
        n_saved = job.saved_epochs()
        if snap["status"] == FINISHED:
            st.success(f"Finished: {n_saved} epoch(s) trained and checkpointed.")
        elif snap["status"] == STOPPED:
            st.info(f"Stopped. {n_saved} complete epoch(s) kept." if n_saved else
                    "Stopped before the first epoch ended: nothing was saved.")
        elif snap["status"] in (DIVERGED, FAILED):
            st.error(snap["error"] + (f" ({n_saved} epoch(s) kept.)" if n_saved and
                                      snap["status"] == FAILED else ""))
        if not running and n_saved:
            if job.saved_as:
                st.success(f"Saved as **{job.saved_as}**. It is the active model now, and stays "
                           "in the sidebar's picker.")
            else:
                st.markdown("**Keep this model**")
                c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
                c1.text_input("Save as", f"{t.dataset}-{m.arch}-z{m.latent_dim}-{job.id[-6:]}",
                              key="tr_save_name", max_chars=64,
                              help="letters, digits, '-', '_' or '.'; it becomes the active "
                                   "model")
                c2.button("Save", key="tr_save", type="primary", on_click=save, args=(job,),
                          width="stretch")
                if st.session_state.get("tr_save_error"):
                    st.error(f"Not saved: {st.session_state['tr_save_error']}")
    st.divider()
