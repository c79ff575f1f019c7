"""AppTest of the Training replay page, the replay figures (ui/replay_figures.py) and the
browser player's data and pure JavaScript (ui/replay_player, run with node --test)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from apptest_helpers import fill_form, stop_last_run, wait_until_idle
from streamlit.proto.WidgetStates_pb2 import WidgetStates
from streamlit.testing.v1 import AppTest

from ui.derived import replay_frames
from ui.replay_figures import (COLLAPSED_NATS, _ellipses, cloud_extent, kl_dims_bars,
                               player_arrays, posterior_clouds, project_frame, replay_curves,
                               replay_plane)
from ui.replay_player import FRONTEND
from ui.replay_view import frame_caption
from ui.keys import MODEL_KEY
from ui.state import BUNDLED_DIR, ENV_USER_DIR
from vae_core import REPLAY, ModelConfig, ReplayRecorder, TrainConfig, Trainer, load_replay

APP = str(Path(__file__).resolve().parents[2] / "app.py")
PAGE = "pages/replay.py"


@pytest.fixture(scope="module")
def user_models(tmp_path_factory, mnist_train, mnist_test, subset) -> Path:
    """A 3-D model trained for 2 epochs with a replay, a copy without it, one with a broken
    replay."""
    root = tmp_path_factory.mktemp("replay-models")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        Trainer(ModelConfig(hidden=[32], latent_dim=3), TrainConfig(epochs=2, batch_size=50,
                                                                    device="cpu"),
                subset(mnist_train, 500), subset(mnist_test, 300), out_dir=root / "tiny3d",
                callbacks=[ReplayRecorder(every=3, n_images=100)]).run()
    finally:
        torch.set_num_threads(threads)
    for name in ("no-replay", "broken-replay"):
        shutil.copytree(root / "tiny3d", root / name)
    (root / "no-replay" / REPLAY).unlink()
    (root / "broken-replay" / REPLAY).write_bytes(b"not a safetensors file")
    return root


@pytest.fixture
def models(user_models: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(ENV_USER_DIR, str(user_models))
    return user_models


def run_page(model: str, frame: int | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state[MODEL_KEY] = model
    if frame is not None:  # as a shared link's step= does
        at.session_state["rp_frame"] = frame
    at.switch_page(PAGE)
    return at.run()


def player(at: AppTest, key: str = "rp_player") -> Any:
    found = [e for e in at.get("bidi_component")
             if e.proto.component_name == "latent_explorer.replay_player"
             and e.proto.id.endswith(key)]
    assert len(found) == 1, f"{len(found)} replay players keyed {key}"
    return found[0]


def player_data(at: AppTest, key: str = "rp_player") -> dict[str, Any]:
    return json.loads(player(at, key).proto.json)


def pause_at(at: AppTest, frame: Any, key: str = "rp_player") -> AppTest:
    """What the page sends when the user pauses (or lets go of the timeline) at `frame`."""
    states: WidgetStates = at._tree.get_widget_states()
    w = states.widgets.add()
    w.id = player(at, key).proto.id
    w.json_value = json.dumps({"position": {"frame": frame, "n": 1}})
    return at._run(states)


def copied_link(at: AppTest) -> str:
    return next(c.value for c in at.get("code") if "/replay?" in c.value)


def test_player_opens_at_the_trained_model_and_autoplays_once(models: Path) -> None:
    at = run_page(str(models / "tiny3d"))
    assert not at.exception, [e.value for e in at.exception]
    r = load_replay(models / "tiny3d")
    d = player_data(at)
    assert d["frame"] == len(r) - 1 and d["snapshots"] == len(r) and d["autoplay"]
    assert d["points"] == 100 and d["dims"] == 3 and d["axes"][0].startswith("PC1")
    layout, digest, data = replay_frames(str(models / "tiny3d"), "x", r)
    assert d["replay"]["hash"] == digest and d["replay"]["bytes"] == len(data)
    assert d["replay"]["layout"] == layout
    assert copied_link(at).endswith(f"step={int(r.step[-1])}")
    at.run()
    assert not player_data(at)["autoplay"]  # once per session, not on every rerun


def test_pause_tells_the_server_the_snapshot_for_copy_link(models: Path) -> None:
    at = run_page(str(models / "tiny3d"))
    r = load_replay(models / "tiny3d")
    pause_at(at, 1)
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["rp_frame"] == 1 and player_data(at)["frame"] == 1
    assert copied_link(at).endswith(f"step={int(r.step[1])}")
    for bad in (-1, len(r), "2", True, None, 1.5):  # nothing a page could send breaks it
        pause_at(at, bad)
        assert not at.exception and at.session_state["rp_frame"] == 1, bad


def test_another_model_opens_at_its_trained_model(models: Path) -> None:
    """A paused frame belongs to its replay: the next model's player opens at its end."""
    at = run_page(str(models / "tiny3d"))
    pause_at(at, 1)
    at.session_state[MODEL_KEY] = str(BUNDLED_DIR / "mnist-conv-16d")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    n = len(load_replay(BUNDLED_DIR / "mnist-conv-16d"))
    assert player_data(at)["frame"] == n - 1 and at.session_state["rp_frame"] == n - 1


def test_a_link_step_opens_the_player_there_without_autoplay(models: Path) -> None:
    at = run_page(str(models / "tiny3d"), frame=2)
    d = player_data(at)
    assert d["frame"] == 2 and not d["autoplay"]


def test_model_without_replay_says_so(models: Path) -> None:
    at = run_page(str(models / "no-replay"))
    assert not at.exception
    assert any("has no training replay" in i.value for i in at.info)
    assert not at.get("bidi_component")


def test_broken_replay_is_an_error_not_a_crash(models: Path) -> None:
    at = run_page(str(models / "broken-replay"))
    assert not at.exception
    assert any("cannot be shown" in e.value and REPLAY in e.value for e in at.error)


@pytest.mark.parametrize("name", ["mnist-mlp-2d", "mnist-conv-16d", "mnist-mlp-50d",
                                  "mnist-cvae-2d", "fashion-mlp-2d"])
def test_bundled_models_replay(name: str) -> None:
    """Latent planes and PCA planes (16-D, 50-D), style codes and another dataset's labels,
    on shipped files: every snapshot in a blob of a few MB at most."""
    at = run_page(str(BUNDLED_DIR / name))
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    r = load_replay(BUNDLED_DIR / name)
    d = player_data(at)
    assert d["snapshots"] == len(r) and d["frame"] == len(r) - 1
    assert d["replay"]["bytes"] <= 3_000_000
    assert 6 <= d["seconds"] <= 20 and len(d["classes"]) == 10
    if name == "mnist-mlp-2d":  # 40 epochs play in 10-20 s at 1x
        assert 10 <= d["seconds"] <= 20


# --- the browser player's arrays and its pure JavaScript ---------------------------------------
def decoded(layout: list[dict[str, Any]], data: bytes) -> dict[str, np.ndarray]:
    return {a["name"]: np.frombuffer(data, "<" + a["dtype"], int(np.prod(a["shape"])),
                                     a["offset"]).reshape(a["shape"]) for a in layout}


def test_player_arrays_hold_every_projected_snapshot(user_models: Path) -> None:
    r = load_replay(user_models / "tiny3d")
    layout, data = player_arrays(r)
    assert all(a["offset"] % 8 == 0 for a in layout)
    got = decoded(layout, data)
    mean, dirs, _ = replay_plane(r)
    for i in (0, len(r) // 2, len(r) - 1):
        xy, covs = project_frame(r, i, mean, dirs)
        want = np.concatenate([xy, covs[:, 0, :1], covs[:, 0, 1:], covs[:, 1, 1:]], 1)
        assert np.allclose(got["frames"][i], want, rtol=2e-3, atol=1e-3)
    assert (got["labels"] == r.labels).all() and (got["step"] == r.step).all()
    assert np.array_equal(got["kl_dims"], r.kl_dims) and (got["epoch_end"] == r.epoch_end).all()
    assert np.array_equal(got["loss"], r.loss, equal_nan=True)


def test_player_javascript_against_python(user_models: Path, tmp_path: Path) -> None:
    """node --test runs the player's pure modules (frames.js, scales.js) against a fixture
    of this replay: the decoded blob, positions between snapshots, blends, ellipses (numpy's
    eigh) and captions (frame_caption) must be Python's."""
    node = shutil.which("node")
    assert node, "node is missing: apt-get install nodejs (the player's unit tests need it)"
    r = load_replay(user_models / "tiny3d")
    layout, data = player_arrays(r)
    (tmp_path / "replay.bin").write_bytes(data)
    got = decoded(layout, data)
    frames, n = got["frames"].astype(np.float32), len(r.index)
    g = np.random.default_rng(0)
    positions = []
    for pos in [-1.0, *g.uniform(r.epoch[0], r.epoch[-1], 8), float(r.epoch[-1]) + 1]:
        pos = float(np.float32(pos))
        i = int(np.clip(np.searchsorted(r.epoch, pos, side="right") - 1, 0, len(r) - 1))
        nxt = min(i + 1, len(r) - 1)
        span = float(r.epoch[nxt] - r.epoch[i])
        f = min(max((pos - float(r.epoch[i])) / span, 0.0), 1.0) if span > 0 else 0.0
        f = 0.0 if pos >= r.epoch[-1] else f
        blend = frames[i] + np.float32(f) * (frames[nxt] - frames[i])
        positions.append({"pos": pos, "i": i, "f": f, "nearest": nxt if f >= 0.5 else i,
                          "blend": blend.ravel()[:40].tolist()})
    ellipses = []
    for c in frames[-1, :10, 2:].astype(np.float64):
        vals, vecs = np.linalg.eigh(np.array([[c[0], c[1]], [c[1], c[2]]]))
        ellipses.append({"cov": c.tolist(), "radii": np.sqrt(vals[::-1]).tolist(),
                         "axis": vecs[:, 1].tolist()})
    fixture = {"blob": "replay.bin", "layout": layout, "snapshots": len(r), "n": n,
               "dims": r.latent_dim, "collapsed": COLLAPSED_NATS,
               "labels": r.labels.tolist(), "steps": r.step.tolist(),
               "fields": ["x", "y", "cxx", "cxy", "cyy"],
               "points": [{"i": i, "k": k, "values": frames[i, k].tolist()}
                          for i in (0, len(r) - 1) for k in (0, n - 1)],
               "positions": positions, "ellipses": ellipses,
               "captions": [{"i": i, "text": frame_caption(r, i)} for i in range(len(r))]}
    (tmp_path / "fixture.json").write_text(json.dumps(fixture))
    out = subprocess.run([node, "--test"], cwd=FRONTEND, capture_output=True, text=True,
                         timeout=120, env={**os.environ,
                                           "REPLAY_FIXTURE": str(tmp_path / "fixture.json")})
    report = out.stdout + out.stderr
    assert out.returncode == 0, report[-4000:]
    assert "# fail 0" in report and "# skipped 0" in report, report[-2000:]
    assert "ok" in report and "a Python replay decodes to Python's numbers" in report


# --- the pure figure builders ----------------------------------------------------------------
def test_figures_on_a_replay(user_models: Path) -> None:
    r = load_replay(user_models / "tiny3d")
    mean, dirs, titles = replay_plane(r)
    assert dirs.shape == (2, 3) and np.allclose(dirs @ dirs.T, np.eye(2), atol=1e-6)
    assert titles[0].startswith("PC1")
    xy, covs = project_frame(r, 0, mean, dirs)
    assert xy.shape == (100, 2) and covs.shape == (100, 2, 2)
    e = cloud_extent(r, mean, dirs)
    fig = posterior_clouds(xy, covs, r.labels, [str(i) for i in range(10)], e, titles)
    classes = len(np.unique(r.labels))
    assert len(fig.data) == 2 + 2 * classes
    assert fig.layout.xaxis.range == (-e, e)
    curves = replay_curves(r, 2)
    assert curves.layout.shapes[0].x0 == pytest.approx(float(r.epoch[2]))
    bars = kl_dims_bars(np.array([0.0, 1.0, 3.0]), 3.0)
    assert bars.data[0].marker.color[0] == "#bbbbbb" and bars.data[0].marker.color[2] != "#bbbbbb"


def test_ellipses_are_one_sigma() -> None:
    cov = np.array([[[4.0, 0.0], [0.0, 1.0]]])
    x, y = _ellipses(np.array([[1.0, -1.0]]), cov)
    pts = np.stack([x, y], 1)[:-1]  # the NaN break ends the polyline
    assert np.allclose((pts[:, 0] - 1) ** 2 / 4 + (pts[:, 1] + 1) ** 2, 1.0)


# --- the Train page: this session's run --------------------------------------------------------
@pytest.fixture
def train_env(mnist_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VAE_DATA_DIR", str(mnist_dir))
    monkeypatch.setenv(ENV_USER_DIR, str(tmp_path))
    yield tmp_path
    stop_last_run()  # never leave a thread running into the next test


def test_train_page_replays_the_run_and_saves_it(train_env: Path) -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("pages/train.py")
    at.run()
    fill_form(at, epochs=2, limit=300)
    at.button(key="tr_start").click().run()
    assert not at.exception
    wait_until_idle(at)
    d = player_data(at, "tr_replay_player")
    assert d["snapshots"] >= 3 and d["frame"] == d["snapshots"] - 1  # start, epochs 1 and 2
    assert not d["autoplay"] and d["replay"]["bytes"] > 0
    pause_at(at, 0, "tr_replay_player")
    assert not at.exception
    assert at.session_state["tr_replay_frame"] == 0
    assert player_data(at, "tr_replay_player")["frame"] == 0
    at.text_input(key="tr_save_name").set_value("replayed")
    at.button(key="tr_save").click().run()
    assert not at.exception and not at.error
    r = load_replay(train_env / "replayed")
    assert r.epoch[-1] == 2 and r.epoch_end[-1] and len(r.index) == 500
