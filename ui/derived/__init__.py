"""Arrays derived from a model, cached with `st.cache_data` and shared by the pages: the one
home of `st.cache_data` (`ui.state` holds the resources). `codes` derives from the encoded test
set, `pictures` draws and reads images; import them from here.

Cached functions take the checkpoint path and weights mtime as strings (the cache key) and the
model as an underscore argument (not hashed). The model is the shared cached one, so it is only
ever read: no train(), no grads, everything under torch.no_grad().
"""

from ui.derived.codes import (TSNE_DEFAULT_POINTS, class_mean_codes, codes_csv, dim_labels,
                              hole_cells, inactive_dims, most_active_dims, pca_of_test_codes,
                              prior_check, project, project_cov, round_trips, subsample,
                              test_codes_figure, test_latent_stats, test_neg_elbo,
                              test_neg_elbo_histogram, tsne_of_test_codes)
from ui.derived.pictures import (anatomy, class_map, digit_reading, image_view, latent_map,
                                 manifold_image, reconstruction, replay_frames, style_grid,
                                 uploaded_image)
from vae_core import EVAL_SEED

__all__ = [
    "EVAL_SEED", "TSNE_DEFAULT_POINTS", "anatomy", "class_map", "class_mean_codes", "codes_csv",
    "digit_reading", "dim_labels", "hole_cells", "image_view", "inactive_dims", "latent_map",
    "manifold_image", "most_active_dims", "pca_of_test_codes", "prior_check", "project",
    "project_cov", "reconstruction", "replay_frames", "round_trips", "style_grid", "subsample",
    "test_codes_figure", "test_latent_stats", "test_neg_elbo", "test_neg_elbo_histogram",
    "tsne_of_test_codes", "uploaded_image",
]
