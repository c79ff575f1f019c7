"""Train: pick every setting, train in a background thread, watch it live, save the result."""

import streamlit as st

from ui.state import active_model
from ui.train_panel import run_panel, session_owner
from ui.training import load_data, manager
from vae_core import (
    ConfigError,
    DataNotFoundError,
    ModelConfig,
    TrainConfig,
    TrainingBusy,
    count_params,
)
from vae_core.config import (
    ACTIVATIONS,
    ARCHS,
    BINARIZE,
    DATASETS,
    DEVICES,
    LIKELIHOODS,
    MAX_LATENT,
    OPTIMIZERS,
    PRECISIONS,
)
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
        mgr.start(mcfg, tcfg, train, test, owner=session_owner())
    except TrainingBusy as e:
        st.warning(f"Not started: {e}.")
    except ConfigError as e:
        st.error(f"These settings are not valid: {e}")


if submitted:
    start_run()


with panel:
    run_panel(mgr)
    st.divider()
