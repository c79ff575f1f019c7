"""AppTest for Latent sliders: the range keeps z, the caption says where the image is, the
map has axes, a model's unused dimensions are marked; the page's buttons, the server-side
fallback's decoded image, z kept across pages; with a conditional model the class picker and
the reading of the pad's digit, style codes on the plane, 'set from this digit'; a missing
classifier is a note (here and on Manifold). The pad itself: tests/app/test_latent_pad.py.

z is read from the latent pad's data (or the server-side sliders where the page falls back to
them) and set as the pad's release would set it (tests/latent_pad_helpers.py)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from apptest_helpers import BUNDLED, CVAE, MLP, figure_image, open_page
from latent_pad_helpers import pad, pad_data, release
from PIL import Image
from streamlit.testing.v1 import AppTest

from ui.keys import MODEL_KEY
from ui.latent_map import MAP_MARGIN, click_to_latent, latent_to_px, px_to_latent
from vae_core import decode_with_spec, export_decoder, load_checkpoint, read_digit

ROOT = Path(__file__).resolve().parents[2]


def sliders(model: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    if model:
        at.session_state[MODEL_KEY] = str(ROOT / "checkpoints" / model)
    at.run()
    at.switch_page("pages/sliders.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def z(at: AppTest) -> list[float]:
    if pad(at) is not None:
        return pad_data(at)["z"]
    return [s.value for s in at.slider if s.key.startswith("z_")]


def test_changing_the_range_keeps_z_and_clips_only_what_does_not_fit() -> None:
    at = sliders()
    at.button(key="sl_reset").click().run()
    at.number_input(key="sl_range").increment().run()  # 3.0 -> 3.5
    assert not at.exception
    assert z(at) == [0.0, 0.0]
    release(at, [2.5, -0.75])
    at.number_input(key="sl_range").set_value(6.0).run()
    assert z(at) == [2.5, -0.75]
    at.number_input(key="sl_range").set_value(1.0).run()
    assert z(at) == [1.0, -0.75]
    assert pad_data(at)["range"] == 1.0


def test_caption_says_where_the_image_is(monkeypatch: pytest.MonkeyPatch) -> None:
    for model in (None, "mnist-conv-16d"):  # the pad draws it right of the plane or sliders
        assert any("on the right" in c.value for c in sliders(model).caption)
    import ui.latent_pad

    monkeypatch.setattr(ui.latent_pad, "unavailable", lambda ck: "a test says so")
    two_d = sliders()  # the server-side fallback draws it under the sliders
    assert any("under the sliders" in c.value for c in two_d.caption)


def test_map_click_maps_back_through_the_margins() -> None:
    size, e = 420, 3.2
    for x, y in [(0.0, 0.0), (-2.5, 1.0), (3.0, -3.0)]:
        px, py = latent_to_px(x, y, e, size)
        for shown in (size + MAP_MARGIN[0], 300):  # full size, and shrunk by the browser
            k = shown / (size + MAP_MARGIN[0])
            click = {"x": (px + MAP_MARGIN[0]) * k, "y": py * k, "width": shown}
            assert click_to_latent(click, e, size) == pytest.approx((x, y), abs=1e-9)


def test_inactive_dimensions_are_marked() -> None:
    at = sliders("mnist-mlp-50d")
    labels = pad_data(at)["dims"]
    assert len(labels) == 50
    inactive = [lab for lab in labels if "inactive" in lab]
    # metrics.json (evaluate --save) found 30 of 50 units active on the same test set
    assert len(inactive) == 20, labels
    assert labels[0].startswith("z0 · inactive") and labels[3] == "z3"


def reading_lines(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if "classifier reads" in m.value]


def test_the_classifier_reading_has_one_owner(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pad reads the digit in the browser (its `reader`); the server's sentence under it
    said it again. The server reads only where the page falls back to server-side sliders."""
    at = sliders()
    assert pad_data(at)["reader"] is not None
    assert reading_lines(at) == []
    import ui.latent_pad

    monkeypatch.setattr(ui.latent_pad, "unavailable", lambda ck: "a test says so")
    assert len(reading_lines(sliders())) == 1


def test_slider_labels_are_short_and_the_detail_is_in_a_caption() -> None:
    """'z0 · inactive (KL 0.00)' was cut in the pad's label column: the label keeps the mark,
    the caption says what it means and their KL."""
    at = sliders("mnist-mlp-50d")
    labels = pad_data(at)["dims"]
    assert max(len(lab) for lab in labels) <= len("z49 · inactive"), labels
    assert all("KL" not in lab for lab in labels)
    note = [c.value for c in at.caption if "inactive" in c.value and "KL" in c.value]
    assert len(note) == 1 and "20 of 50" in note[0], note
    assert all(lab == f"z{i}" for i, lab in enumerate(pad_data(sliders("mnist-conv-16d"))["dims"]))


def test_map_pixel_latent_round_trip() -> None:
    e, size = 3.2, 420
    for x, y in [(0.0, 0.0), (-3.0, 2.5), (1.7, -0.4)]:
        px, py = latent_to_px(x, y, e, size)
        assert px_to_latent(px, py, e, size, size) == pytest.approx((x, y))
    assert px_to_latent(0, 0, e, size, size) == pytest.approx((-e, e))  # top-left corner


# --- buttons, the server-side fallback, z across pages ---------------------------------------
def pixels(media: dict[str, bytes], url: str) -> np.ndarray:
    file_id = url.rsplit("/", 1)[-1].split(".")[0]
    return np.asarray(Image.open(io.BytesIO(media[file_id])).convert("L"), dtype=np.int16)


def test_sliders_move_the_decoded_image(media: dict[str, bytes],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The server-side fallback (for decoders the latent pad cannot export)."""
    import ui.latent_pad

    monkeypatch.setattr(ui.latent_pad, "unavailable", lambda ck: "a test says so")
    at = open_page("sliders")
    assert [s.key for s in at.slider] == ["z_0", "z_1"]
    img0 = pixels(media, at.image[0].value[0])
    at.slider(key="z_0").set_value(2.0).run()
    assert not at.exception
    img1 = pixels(media, at.image[0].value[0])
    assert img1.shape == img0.shape == (28 * 8, 28 * 8)
    assert np.abs(img1 - img0).mean() > 1.0  # the digit changed, not just a pixel
    # ... and it is exactly the decoder's image at (2, 0), enlarged 8x.
    model = load_checkpoint(BUNDLED).model
    with torch.no_grad():
        want = model.decode(torch.tensor([[2.0, 0.0]]))[0, 0].numpy()
    assert np.abs(img1[::8, ::8] - np.round(want * 255)).max() <= 1


def test_slider_buttons_set_values_before_the_sliders() -> None:
    at = open_page("sliders")
    at.button(key="sl_random").click().run()
    z = pad_data(at)["z"]
    assert any(v != 0 for v in z) and not at.exception
    at.button(key="sl_random").click().run()  # the next seed: a different draw
    assert pad_data(at)["z"] != z
    at.button(key="sl_reset").click().run()
    assert pad_data(at)["z"] == [0.0, 0.0]
    at.number_input(key="sl_digit").set_value(3)
    at.button(key="sl_from_digit").click().run()
    assert not at.exception
    z = pad_data(at)["z"]
    assert any(v != 0 for v in z)
    assert max(abs(v) for v in z) <= at.number_input(key="sl_range").value


def test_sliders_range_grows_to_fit_and_many_dims(tiny4: str) -> None:
    at = open_page("sliders", tiny4)
    assert [d.split(" ")[0] for d in pad_data(at)["dims"]] == [f"z{i}" for i in range(4)]
    at.number_input(key="sl_range").set_value(1.0).run()
    assert not at.exception
    assert pad_data(at)["range"] == 1.0


def test_slider_values_survive_a_visit_to_another_page() -> None:
    at = open_page("sliders")
    release(at, [0.0, -1.5])
    at.switch_page("pages/manifold.py").run()
    at.switch_page("pages/sliders.py").run()
    assert not at.exception
    assert pad_data(at)["z"] == [0.0, -1.5]


# --- a conditional model: the class picker and the reading -----------------------------------
def readings(at: AppTest) -> list[str]:
    """The server's readings; where the pad decodes, it reads the digit itself (issue 26)."""
    return [m.value for m in at.markdown if "The digit classifier reads" in m.value]


def pad_reads(at: AppTest, model: torch.nn.Module) -> int:
    """The class the pad's classifier reads in its digit (the Python reference of both)."""
    data = pad_data(at)
    assert data["reader"] is not None and readings(at) == []  # one reading: the pad's
    return read_digit(browser_digit(data, model).astype(np.float32))[0]


def browser_digit(data: dict, model: torch.nn.Module) -> np.ndarray:
    """What the pad's decoder draws at data's z and class (the spec it runs, in NumPy)."""
    spec, weights = export_decoder(model)
    assert data["decoder"]["spec"] == spec
    return decode_with_spec(spec, weights, np.array([data["z"]]), data["label"])[0]


def test_sliders_class_picker_changes_the_pads_digit_and_the_reading() -> None:
    at = open_page("sliders", CVAE)
    model = load_checkpoint(ROOT / "checkpoints" / CVAE).model
    first = pad_data(at)
    assert first["label"] == 0 and at.radio(key="sl_class").options == [str(d) for d in range(10)]
    assert pad_reads(at, model) == 0
    for k in (3, 7):
        at.radio(key="sl_class").set_value(k).run()
        data = pad_data(at)
        assert not at.exception and data["label"] == k
        assert data["decoder"]["hash"] == first["decoder"]["hash"]  # no new download
        assert np.abs(browser_digit(data, model) - browser_digit(first, model)).max() > 0.5
        assert pad_reads(at, model) == k
    release(at, [2.5, -2.5])  # the reading follows the z Python holds, class kept
    assert pad_data(at)["z"] == [2.5, -2.5] and pad_data(at)["label"] == 7
    assert pad_reads(at, model) == 7
    assert any("decoder's **7** at every style" in c.value for c in at.caption)


def test_sliders_plane_shows_style_codes_encoded_with_their_labels() -> None:
    """The pad's dots for a conditional model are q(z|x, y) means: the classes overlap (the
    label has left z), unlike the unconditional model's clusters."""
    from ui.state import pad_points
    from ui.state import encoded, get_model, test_set

    _, labels, _ = test_set("mnist")

    def centre_spread(model: str) -> float:
        ck = get_model(str(ROOT / "checkpoints" / model))
        mu = encoded(ck)[0]
        _, data = pad_points(ck, 5000)
        xy = np.frombuffer(data[:5000 * 8], "<f4").reshape(5000, 2)
        assert np.allclose(xy, mu[:5000])
        centres = np.stack([mu[labels == k].mean(0) for k in range(10)])
        return float(np.linalg.norm(centres - mu.mean(0), axis=1).mean() / mu.std(0).mean())

    if_labelled, plain = centre_spread(CVAE), centre_spread(MLP)
    print(f"class centres / code spread: conditional {if_labelled:.2f}, unconditional "
          f"{plain:.2f}")
    assert if_labelled < 0.4 and plain > 0.7


def test_sliders_fallback_decodes_the_chosen_class_on_the_server(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import ui.latent_pad

    monkeypatch.setattr(ui.latent_pad, "unavailable", lambda ck: "a test says so")
    at = open_page("sliders", CVAE)
    before = at.image[0].proto.imgs[0].url
    at.radio(key="sl_class").set_value(4).run()
    assert not at.exception and at.image[0].proto.imgs[0].url != before
    assert readings(at)[0].startswith("The digit classifier reads **4**")


def test_sliders_unconditional_model_has_no_class_and_a_reading() -> None:
    at = open_page("sliders", MLP)
    assert not [r for r in at.radio if r.key == "sl_class"]
    assert pad_data(at)["label"] is None
    assert pad_reads(at, load_checkpoint(ROOT / "checkpoints" / MLP).model) in range(10)
    fashion = open_page("sliders", "fashion-mlp-2d")  # the classifier reads digits only
    assert not readings(fashion) and pad_data(fashion)["reader"] is None
    assert any("No classifier reading" in m.value for m in fashion.markdown)


def test_set_from_a_digit_takes_its_style_and_keeps_the_class() -> None:
    """'Can I write a 3 in the style of this 7?': the digit's style code (encoded with its
    own label), drawn in the class picked."""
    from ui.state import encoded, get_model, test_set

    at = open_page("sliders", CVAE)
    at.radio(key="sl_class").set_value(3).run()
    _, labels, _ = test_set("mnist")
    seven = int(np.flatnonzero(labels == 7)[0])
    at.number_input(key="sl_digit").set_value(seven)
    at.button(key="sl_from_digit").click().run()
    ck = get_model(str(ROOT / "checkpoints" / CVAE))
    mu = encoded(ck)[0][seven]
    assert pad_data(at)["z"] == [round(float(v), 2) for v in mu]
    assert pad_data(at)["label"] == 3 and pad_reads(at, ck.model) == 3


def test_a_missing_classifier_is_a_note_not_a_crash(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import vae_core.classifier

    monkeypatch.setattr(vae_core.classifier, "DEFAULT_DIR", tmp_path)  # no classifier files
    at = open_page("sliders", CVAE)
    assert pad_data(at)["reader"] is None  # the page reads nothing live either
    assert any(m.value.startswith("No classifier reading:") for m in at.markdown)
    mf = open_page("manifold", MLP)
    mf.slider(key="mf_n").set_value(7).run()  # a grid no other test has read (cache)
    mf.toggle(key="mf_class_map").set_value(True).run()
    assert not mf.exception and mf.warning[0].value.startswith("No class map:")
    assert len(figure_image(mf, "mf_figure").shape) == 2  # the plain grey grid
