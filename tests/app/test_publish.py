"""Publishing a model to the shared models folder (vae_core.publish): a content-hashed name,
validated like an upload, capped in size, written atomically and safe when two threads or two
processes publish at once."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from streamlit.testing.v1 import AppTest

import vae_core
from vae_core import CheckpointError, import_upload, is_checkpoint, publish_checkpoint
from vae_core import publish as pub
from ui.keys import MODEL_KEY
from ui.lesson import PANEL_KEY
from vae_core.archive import PORTABLE_FILES

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "checkpoints"


def upload_of(tmp: Path, model: str, name: str) -> Path:
    """`model`'s files uploaded the way the app does (import_upload), as folder `name`."""
    files = [(f, (BUNDLED / model / f).read_bytes()) for f in
             ("config.json", "model.safetensors", "metrics.json")]
    dest = import_upload(files, tmp / "uploads")
    return dest.rename(dest.with_name(name))


def published(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir())


def same_files(a: Path, b: Path) -> bool:
    names = sorted(p.name for p in a.iterdir())
    return names == sorted(p.name for p in b.iterdir()) and all(
        (a / n).read_bytes() == (b / n).read_bytes() for n in names)


def test_the_same_model_twice_is_one_byte_identical_folder(tmp_path: Path) -> None:
    src = upload_of(tmp_path, "mnist-conv-2d", "teacher-model")
    root = tmp_path / "shared"
    first = publish_checkpoint(src, root)
    mtime = (first / "model.safetensors").stat().st_mtime_ns
    again = publish_checkpoint(upload_of(tmp_path, "mnist-conv-2d", "teacher-model"), root)
    assert first == again and published(root) == [first.name]
    assert first.name == f"teacher-model-{vae_core.content_hash(src)[:8]}"
    assert same_files(first, src)
    assert (first / "model.safetensors").stat().st_mtime_ns == mtime  # written once
    assert vae_core.load_checkpoint(first).name == first.name


def test_a_different_model_with_the_same_name_gets_its_own_folder(tmp_path: Path) -> None:
    root = tmp_path / "shared"
    a = publish_checkpoint(upload_of(tmp_path, "mnist-conv-2d", "teacher-model"), root)
    b = publish_checkpoint(upload_of(tmp_path, "mnist-mlp-2d", "teacher-model"), root)
    assert a != b and a.name.startswith("teacher-model-") and b.name.startswith("teacher-model-")
    assert published(root) == sorted([a.name, b.name])
    assert (a / "model.safetensors").read_bytes() == \
        (BUNDLED / "mnist-conv-2d" / "model.safetensors").read_bytes()


def test_a_published_model_uploaded_again_keeps_its_name(tmp_path: Path) -> None:
    root = tmp_path / "shared"
    first = publish_checkpoint(upload_of(tmp_path, "mnist-mlp-2d", "lesson"), root)
    again = publish_checkpoint(first, tmp_path / "elsewhere")
    assert again.name == first.name  # not lesson-<hash>-<hash>
    assert pub.published_name("a b/c", "0123abcd" * 8) == "a-b-c-0123abcd"
    assert pub.published_name("../..", "0123abcd" * 8) == "model-0123abcd"
    assert len(pub.published_name("x" * 200, "f" * 64)) <= 64


def test_a_different_folder_under_the_hashed_name_is_never_overwritten(tmp_path: Path) -> None:
    src = upload_of(tmp_path, "mnist-conv-2d", "teacher-model")
    root = tmp_path / "shared"
    squatter = root / pub.published_name("teacher-model", vae_core.content_hash(src))
    vae_core.copy_checkpoint(BUNDLED / "mnist-mlp-2d", squatter)  # e.g. a Save-as
    before = (squatter / "model.safetensors").read_bytes()
    with pytest.raises(CheckpointError, match="a different model is already called") as e:
        publish_checkpoint(src, root)
    assert "\n" not in str(e.value)
    assert (squatter / "model.safetensors").read_bytes() == before
    assert published(root) == [squatter.name]


def test_an_oversized_model_is_refused_with_one_line(tmp_path: Path) -> None:
    src = upload_of(tmp_path, "mnist-mlp-2d", "huge")
    with open(src / "replay.safetensors", "wb") as f:  # sparse: 40 MB without writing them
        f.truncate(40_000_000)
    root = tmp_path / "shared"
    with pytest.raises(CheckpointError) as e:
        publish_checkpoint(src, root)
    msg = str(e.value)
    assert "\n" not in msg and "up to 32 MB" in msg and "huge is 4" in msg
    assert not root.exists() or published(root) == []


@pytest.mark.parametrize("spoil", ["garbage weights", "symlinked weights", "bad config",
                                   "not a checkpoint"])
def test_a_hostile_folder_is_refused_and_nothing_is_left(tmp_path: Path, spoil: str) -> None:
    src = upload_of(tmp_path, "mnist-mlp-2d", "hostile")
    if spoil == "garbage weights":
        (src / "model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}" + b"x" * 99)
    elif spoil == "symlinked weights":
        secret = tmp_path / "secret"
        secret.write_bytes((src / "model.safetensors").read_bytes())
        (src / "model.safetensors").unlink()
        (src / "model.safetensors").symlink_to(secret)
    elif spoil == "bad config":
        (src / "config.json").write_text(json.dumps({"model": {"latent_dim": -3}}))
    else:
        (src / "model.safetensors").unlink()
    root = tmp_path / "shared"
    with pytest.raises(CheckpointError) as e:
        publish_checkpoint(src, root)
    assert "\n" not in str(e.value) and str(e.value)
    assert not root.exists() or published(root) == []  # no staging folder, no model


def test_an_unwritable_shared_folder_is_one_line(tmp_path: Path) -> None:
    src = upload_of(tmp_path, "mnist-mlp-2d", "m")
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(CheckpointError, match="shared models folder") as e:
        publish_checkpoint(src, blocker / "models")
    assert "\n" not in str(e.value)


def test_the_default_root_is_the_shared_models_folder(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAE_USER_MODELS_DIR", str(tmp_path / "class"))
    dest = publish_checkpoint(upload_of(tmp_path, "mnist-mlp-2d", "m"))
    assert dest.parent == tmp_path / "class"
    assert vae_core.load(dest.name).name == dest.name  # found by name, as a link finds it


def test_a_stale_staging_folder_is_swept(tmp_path: Path) -> None:
    root = tmp_path / "shared"
    old = root / f"{pub.STAGING_PREFIX}dead" / "x"
    old.mkdir(parents=True)
    fresh = root / f"{pub.STAGING_PREFIX}busy"
    fresh.mkdir()
    os.utime(old.parent, (time.time() - 2 * pub.STALE_SECONDS,) * 2)
    dest = publish_checkpoint(upload_of(tmp_path, "mnist-mlp-2d", "m"), root)
    assert published(root) == sorted([dest.name, fresh.name])


def test_two_threads_that_both_staged_race_for_the_rename_safely(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both threads validate their copy before either renames (a barrier in the validation),
    so one rename meets the other's finished folder: both get it, intact, and nothing else
    is left."""
    src = upload_of(tmp_path, "mnist-conv-2d", "teacher-model")
    root = tmp_path / "shared"
    barrier = threading.Barrier(2, timeout=60)
    real = pub.load_checkpoint

    def slow_load(path):
        ck = real(path)
        barrier.wait()
        return ck

    monkeypatch.setattr(pub, "load_checkpoint", slow_load)
    results: list[Path | BaseException] = []

    def run() -> None:
        try:
            results.append(publish_checkpoint(src, root))
        except BaseException as e:  # noqa: BLE001 - reported by the assert below
            results.append(e)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(results) == 2 and all(isinstance(r, Path) for r in results), results
    assert results[0] == results[1] and published(root) == [results[0].name]
    assert same_files(results[0], src) and is_checkpoint(results[0])


def test_two_processes_publishing_at_once_give_one_folder(tmp_path: Path) -> None:
    src = upload_of(tmp_path, "mnist-conv-2d", "teacher-model")
    root = tmp_path / "shared"
    start = time.time() + 8  # both imports done by then; they publish together
    script = ("import sys, time; from vae_core import publish_checkpoint\n"
              f"time.sleep(max(0, {start} - time.time()))\n"
              f"print(publish_checkpoint({str(src)!r}, {str(root)!r}))\n")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    procs = [subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=180) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-1500:] for o in outs]
    paths = {o[0].strip() for o in outs}
    assert len(paths) == 1 and published(root) == [Path(paths.pop()).name]
    assert same_files(root / published(root)[0], src)


def test_only_portable_files_are_published(tmp_path: Path) -> None:
    src = upload_of(tmp_path, "mnist-mlp-2d", "m")
    (src / "optimizer.safetensors").write_bytes(b"optimizer state")
    (src / "notes.txt").write_text("private")
    dest = publish_checkpoint(src, tmp_path / "shared")
    assert sorted(p.name for p in dest.iterdir()) == sorted(
        f for f in PORTABLE_FILES if (src / f).exists())


# --- the Copy link popover (AppTest) ------------------------------------------------------------
APP = str(ROOT / "app.py")


def sliders_with_upload(name: str) -> AppTest:
    """Latent sliders with the bundled mnist-conv-2d uploaded as `<name>.zip`."""
    at = AppTest.from_file(APP, default_timeout=90)
    at.switch_page("pages/sliders.py").run()
    (up,) = at.sidebar.get("file_uploader")
    files = [(f, (BUNDLED / "mnist-conv-2d" / f).read_bytes()) for f in
             ("config.json", "model.safetensors", "metrics.json")]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for f, blob in files:
            zf.writestr(f"{name}/{f}", blob)
    up.upload(f"{name}.zip", buf.getvalue(), "application/zip")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def copied(at) -> str:
    return next(c.value for c in at.get("code"))


def linked_model(at) -> str:
    """The model the popover's link names."""
    url = copied(at)
    assert urlsplit(url).path == "/sliders", url
    return parse_qs(urlsplit(url).query)["model"][0]


def texts(elements) -> str:
    return " | ".join(str(e.value) for e in elements)


def test_copy_link_on_an_upload_says_this_browser_only_then_publishes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shared = tmp_path / "class-models"
    monkeypatch.setenv("VAE_USER_MODELS_DIR", str(shared))
    at = sliders_with_upload("teacher-model")
    assert linked_model(at) == "teacher-model"
    assert "Only this browser can open this link" in texts(at.warning)
    assert "Whoever opens it sees" not in texts(at.caption)  # the promise would be false
    at.button(key="sl_link_publish").click().run()
    assert not at.exception, [e.value for e in at.exception]
    (dest,) = shared.iterdir()
    assert dest.name.startswith("teacher-model-") and len(dest.name) == len("teacher-model-") + 8
    assert linked_model(at) == dest.name
    assert f"Published as **{dest.name}**" in texts(at.success)
    assert "Only this browser" not in texts(at.warning)
    assert "Whoever opens it sees" in texts(at.caption)
    box = at.sidebar.selectbox(key=MODEL_KEY)
    assert "(uploaded)" in box.format_func(box.value)  # the session keeps its upload
    # The sidebar's Lesson link keeps the published model too.
    at.session_state[PANEL_KEY] = True  # open it: closed, it draws nothing
    at.run()
    at.sidebar.checkbox(key="lesson_lock").check().run()
    lesson = [c.value for c in at.sidebar.get("code")]
    assert lesson and f"model={dest.name}" in lesson[0] and "lock=model" in lesson[0], lesson
    # Another browser: the link's model is found (in the shared folder), no warning.
    other = AppTest.from_file(APP, default_timeout=90)
    other.query_params.update({"model": dest.name, "z": "0.5,-0.5"})
    other.switch_page("pages/sliders.py").run()
    assert not other.exception and not other.warning, texts(other.warning)
    assert Path(other.session_state[MODEL_KEY]) == dest


def test_a_failed_publish_is_one_line_in_the_popover(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("VAE_USER_MODELS_DIR", str(blocker / "models"))
    at = sliders_with_upload("teacher-model")
    at.button(key="sl_link_publish").click().run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error if str(e.value).startswith("Not published:")]
    assert len(errors) == 1 and "\n" not in errors[0] and "shared models folder" in errors[0]
    assert "Only this browser" in texts(at.warning) and linked_model(at) == "teacher-model"


def test_a_bundled_model_gets_no_publish_offer(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAE_USER_MODELS_DIR", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=90)
    at.switch_page("pages/sliders.py").run()
    assert not [b for b in at.button if b.key == "sl_link_publish"]
    assert "Whoever opens it sees" in texts(at.caption) and not at.warning
