"""Every `st.session_state` key the code reads or writes, and the app's pages, in one place.

A widget's key is also its session-state key. Keys that only name a widget (Streamlit reads
them, the code never does) stay literals at the widget, prefixed by their page (`mf_`,
`scatter_`, `gen_`, `rc_`, `tr_`, ...); as soon as code reads or writes one, it moves here.

When a page may write a widget's key (Streamlit raises, or silently drops the value,
otherwise):
- before the widget is drawn in this run, or in a callback (`on_click` / `on_change`), which
  runs before the next run draws it: that is how buttons, shared links and clicks on a map
  set sliders;
- never after the widget is drawn in the same run;
- a widget's key is dropped when a run does not draw it (another page, a hidden branch): a page
  that must remember a value across pages keeps a plain copy under its own key (`SL_CODE`,
  `CHOICE_KEY`) and seeds the widget from it;
- give a widget either a default value or a session-state value, not both.

A part that draws several widgets (the replay view, a class picker, a run's buttons) takes a
key prefix from its page and derives its keys from it (`<prefix>_frame`, `<prefix>_player`,
`<prefix>_seen`).
"""

# The app and its navigation
PAGES = [  # the app's pages: (file, title, icon); the first is the default page
    ("pages/home.py", "How a VAE works", ":material/school:"),
    ("pages/train.py", "Train", ":material/model_training:"),
    ("pages/sliders.py", "Latent sliders", ":material/tune:"),
    ("pages/manifold.py", "Manifold", ":material/grid_on:"),
    ("pages/scatter.py", "Latent scatter", ":material/scatter_plot:"),
    ("pages/reconstruct.py", "Reconstruct", ":material/draw:"),
    ("pages/generate.py", "Generate", ":material/auto_awesome:"),
    ("pages/compare.py", "Compare", ":material/compare:"),
    ("pages/replay.py", "Training replay", ":material/history:"),
]

ENTRY_KEY = "nav_entry_ran"  # set by app.py on every run of a session
LESSON_KEY = "lesson_links"  # the lesson of the links this session opened (ui.lesson)
APPLIED_KEY = "share_applied"  # page -> the query this session has applied there

# The model picker and uploads (ui.state)
MODEL_KEY = "active_model_path"  # the sidebar selectbox: the active checkpoint folder
CHOICE_KEY = "active_model_choice"  # its plain copy, which survives fragment reruns
UPLOADS_KEY = "uploaded_models"  # label -> folder of the models this session uploaded
UPLOAD_ERROR_KEY = "ckpt_upload_error"
UPLOAD_ROUND_KEY = "ckpt_upload_round"  # part of the uploader's key: a new round empties it
PUBLISHED_KEY = "published_uploads"  # upload folder -> its published copy (ui.publish)
PUBLISH_ERROR_KEY = "publish_error"  # upload folder -> why publishing it failed

# How a VAE works (home) and its tour
HOME_DIGIT = "home_digit"  # the followed test image (number input)
HOME_SEED = "home_seed"  # the seed of eps (number input)
STEP_KEY = "tour_step"

# Train
FORM_VALUES_KEY = "tr_form_values"  # field name -> last submitted value (survives page visits)
OWNER_KEY = "tr_owner"  # this browser session's id, the owner of the runs it starts
MISSING_KEY = "tr_missing_data"  # the dataset a Start could not find, until it is found
DISCARD_ERROR = "tr_discard_error"  # why discarding a run failed, shown on the next run
SAVED_KEY = "tr_saved_run"  # the run a Save just kept: named once at the top of Train

# Latent sliders and its pad
SL_CODE = "sl_code"  # z, a plain copy: slider keys are dropped while on other pages
SL_RANGE = "sl_range"  # slider range +-R (number input)
SL_DRAWS = "sl_draws"  # how many random draws so far (the next one's seed)
SL_DIGIT = "sl_digit"  # test digit to set z from (number input)
SL_CLASS = "sl_class"  # class of a conditional model (radio)
SL_MAP = "sl_map"  # the fallback map's last click (image coordinates)
SL_MAP_DONE = "sl_map_done"  # time of the click already applied
Z_PREFIX = "z_"  # the server sliders: z_0, z_1, ... (see z_key)
HAVE_KEY = "latent_pad_have"  # hashes of the blobs the page said it holds
ACK_KEY = "latent_pad_ack"  # id of the last release applied (the page ignores older echoes)

# Reconstruct
CANVAS_ROUND = "rc_canvas_round"  # bumped by Clear drawing: the drawing canvas's key changes

# Compare and Training replay
COMPARE_MODELS = "compare_models"  # the models shown side by side (multiselect)
STATS_KEY = "compare_stats_on"
RP_FRAME = "rp_frame"  # the replay page's timeline (ui.replay_view names it "<prefix>_frame")

# Widgets a shared link sets (ui.view_links seeds them and reads them for "Copy link")
MF_VIEW, MF_CLASS, MF_CLASS_MAP = "mf_view", "mf_class", "mf_class_map"  # Manifold
MF_N, MF_LIM, MF_SPACING, MF_PLANE, MF_DX, MF_DY = ("mf_n", "mf_lim", "mf_spacing", "mf_plane",
                                                    "mf_dx", "mf_dy")
MF_ROWS, MF_STYLE, MF_SEED, MF_RADIUS = "mf_rows", "mf_style", "mf_seed", "mf_radius"
SC_PROJECTION, SC_OPACITY = "scatter_projection", "scatter_opacity"  # Latent scatter
SC_N, SC_N_TSNE = "scatter_n", "scatter_n_tsne"  # its points (latent axes or PCA; t-SNE)
SC_HOLES, SC_FIELD, SC_FIELD_CLASS = "scatter_holes", "scatter_field", "scatter_field_class"
SL_HOLES, SL_FIELD, SL_COST, SL_COST_DIGIT = "sl_holes", "sl_field", "sl_cost", "sl_cost_digit"
GEN_TAB, GEN_CLASS = "gen_tab", "gen_class"  # Generate
GEN_PRIOR_N, GEN_PRIOR_SEED, GEN_PRIOR_NCOL = "gen_prior_n", "gen_prior_seed", "gen_prior_ncol"
GEN_POST_INDEX, GEN_POST_N, GEN_POST_SEED = "gen_post_index", "gen_post_n", "gen_post_seed"
GEN_POST_PIXELS = "gen_post_pixels"
GEN_INTERP_A, GEN_INTERP_B, GEN_INTERP_STEPS = "gen_interp_a", "gen_interp_b", "gen_interp_steps"
GEN_TRAV_AROUND, GEN_TRAV_INDEX = "gen_trav_around", "gen_trav_index"
GEN_TRAV_STEPS, GEN_TRAV_LIM = "gen_trav_steps", "gen_trav_lim"


def z_key(i: int) -> str:
    """Session-state key of the server slider for latent dimension i."""
    return f"{Z_PREFIX}{i}"
