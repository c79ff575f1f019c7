"""Lesson views: what a teacher's link or server leaves out, kept in the address and enforced.

A lesson is plain URL parameters, the same on every page:

    hide   pages by their URL name (train, sliders, ...) and `upload`, comma-separated
    lock   `model`: the sidebar shows the lesson's model, without the picker or the upload
    model  with lock=model, the lesson's model (a folder name; left out, the default model)

A lesson adds up from two places, and a restriction is never lifted:
- the server: $VAE_LESSON (`python -m deploy --lesson "hide=train,upload&lock=model"` sets it)
  holds for every session, whatever the URL says;
- the links this session opened: remembered in session state and written back into the
  address on every run (`keep_in_url`), so a menu click or a reload keeps them, and "Copy
  link" (ui/share.py) carries them.
A hidden page leaves the menu but keeps its address, where it shows a short note
(`note_page`). `lesson_panel` is the teacher's "Lesson link" builder in the sidebar.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit

import streamlit as st

from ui.keys import LESSON_KEY, PAGES
from ui.publish import shared_name

ENV_LESSON = "VAE_LESSON"  # the server's lesson, e.g. "hide=train,upload&lock=model"
PAGE_FLAGS = tuple(page.removeprefix("pages/").removesuffix(".py") for page, _, _ in PAGES[1:])
HIDE_FLAGS = frozenset(PAGE_FLAGS) | {"upload"}  # the home page always stays
LOCKS = frozenset({"model"})
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}
PANEL_KEY = "lesson_panel"  # the Lesson link expander: open (True) or closed
PANEL_WIDGETS = (*(f"lesson_hide_{f}" for f in PAGE_FLAGS), "lesson_hide_upload", "lesson_lock",
                 "lesson_start")


@dataclass(frozen=True)
class Lesson:
    """What a lesson leaves out; `model` is the locked model's folder name (None: default)."""

    hide: frozenset[str] = frozenset()
    lock: frozenset[str] = frozenset()
    model: str | None = None

    def __or__(self, other: Lesson) -> Lesson:
        """Both lessons at once: every restriction of each; the left one's model first."""
        return Lesson(self.hide | other.hide, self.lock | other.lock, self.model or other.model)

    def __bool__(self) -> bool:
        return bool(self.hide or self.lock)

    @property
    def locked(self) -> bool:
        return "model" in self.lock

    def hides(self, flag: str) -> bool:
        """Whether a page (by URL name) or `upload` is left out; a locked model hides upload."""
        return flag in self.hide or (flag == "upload" and self.locked)

    def query(self) -> dict[str, str]:
        """The URL parameters of this lesson (what `parse_lesson` reads back)."""
        q = {}
        if self.hide:
            q["hide"] = ",".join(sorted(self.hide))
        if self.lock:
            q["lock"] = ",".join(sorted(self.lock))
            if self.model:
                q["model"] = self.model
        return q


def _flags(params: Mapping[str, str], name: str, known: frozenset[str],
           problems: list[str]) -> frozenset[str]:
    flags = {f.strip().lower() for f in str(params.get(name, "")).split(",") if f.strip()}
    unknown = sorted(flags - known)
    if unknown:
        problems.append(f"{name}={','.join(unknown)} is not a flag here (known: "
                        f"{', '.join(sorted(known))})")
    return frozenset(flags & known)


def parse_lesson(params: Mapping[str, str]) -> tuple[Lesson, list[str]]:
    """The lesson of query parameters (pure) and what could not be read, one phrase each."""
    problems: list[str] = []
    hide = _flags(params, "hide", HIDE_FLAGS, problems)
    lock = _flags(params, "lock", LOCKS, problems)
    model = str(params.get("model") or "").strip() or None
    return Lesson(hide, lock, model if "model" in lock else None), problems


def parse_lesson_text(text: str) -> tuple[Lesson, list[str]]:
    """A lesson written as a query string ("hide=train,upload&lock=model"; a leading ? is
    fine), for the server; any other parameter is a problem."""
    params = dict(parse_qsl(text.strip().lstrip("?"), keep_blank_values=True))
    lesson, problems = parse_lesson(params)
    problems += [f"{k} is not a lesson parameter (hide, lock, model)"
                 for k in sorted(set(params) - {"hide", "lock", "model"})]
    if params.get("model") and not lesson.locked:
        problems.append("model needs lock=model")
    return lesson, problems


def server_lesson() -> tuple[Lesson, tuple[str, ...]]:
    """The lesson this server enforces ($VAE_LESSON) and what it could not read (a few
    microseconds of parsing: not worth a cache)."""
    lesson, problems = parse_lesson_text(os.environ.get(ENV_LESSON, ""))
    return lesson, tuple(problems)


def link_lesson() -> Lesson:
    """The lesson of the links this session opened: remembered ones and this run's URL."""
    url, _ = parse_lesson(st.query_params.to_dict())
    saved = st.session_state.get(LESSON_KEY)
    lesson = (Lesson(frozenset(saved["hide"]), frozenset(saved["lock"]), saved["model"])
              if saved else Lesson()) | url
    if lesson:
        st.session_state[LESSON_KEY] = {"hide": sorted(lesson.hide),
                                        "lock": sorted(lesson.lock), "model": lesson.model}
    return lesson


def current() -> Lesson:
    """The lesson in force in this session: the server's, then its links' (which may add
    restrictions, never lift one; the server's model comes first)."""
    return server_lesson()[0] | link_lesson()


def shown(page: str) -> bool:
    """Whether a page file (e.g. "pages/train.py") is in the menu: a link to a hidden page
    would open its note."""
    return not current().hides(page.removeprefix("pages/").removesuffix(".py"))


def keep_in_url() -> None:
    """Write this session's link lesson into the address (a menu click drops the query), so
    a reload keeps it. Only a flag the address lacks is written: a link's own spelling
    (`hide=upload,train`) stays, so the page does not take it for a new link."""
    lesson, (url, _) = link_lesson(), parse_lesson(st.query_params.to_dict())
    same = {"hide": url.hide == lesson.hide, "lock": url.lock == lesson.lock,
            "model": st.query_params.get("model") == lesson.model}
    for name, value in lesson.query().items():
        if not same[name]:
            st.query_params[name] = value


def note_page(title: str) -> Callable[[], None]:
    """The page shown instead of a page this lesson leaves out."""
    def note() -> None:
        keep_in_url()
        st.title(title)
        st.info(f"**{title}** is not part of this lesson. The menu on the left holds the "
                "pages of this lesson.", icon=":material/block:")
        st.page_link(PAGES[0][0], label=PAGES[0][1], icon=PAGES[0][2])
    return note


def locked_path(lesson: Lesson, models: Mapping[str, str], default: str) -> str:
    """The folder of the lesson's model among the picker's (label -> path, a bundled one
    first), else `default`."""
    hits = sorted(("(bundled)" not in label, p) for label, p in models.items()
                  if os.path.basename(p) == lesson.model)
    return hits[0][1] if hits else default


def lan_address() -> str | None:
    """This machine's address on the local network (the interface of its default route),
    or None when it has none; no packet is sent."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.254.254.254", 1))
            ip = s.getsockname()[0]
        except OSError:
            return None
    return None if ip.startswith("127.") else ip


def lesson_url(base_url: str, page: str, lesson: Lesson, host: str | None = None,
               model: str | None = None) -> str:
    """The URL of `page` (a URL name, "" for home) with `lesson` and, unless the lesson names
    it, `model`, on the server of `base_url`, its host replaced by `host` when given."""
    parts = urlsplit(base_url)
    netloc = parts.netloc
    if host:
        netloc = host + (f":{parts.port}" if parts.port else "")
    root = f"{parts.scheme}://{netloc}" if netloc else ""
    q = lesson.query()
    if model and "model" not in q:
        q["model"] = model
    return f"{root}/{page}" + (f"?{urlencode(q, safe=',')}" if q else "")


def lesson_panel(model: str) -> None:
    """The teacher's "Lesson link": pick what to leave out, copy the link for the class.
    Not drawn while a lesson is in force (students need no link builder)."""
    if current():
        return
    # Built only while open (it reruns on open and close): closed, as for most visitors, the
    # sidebar of every run skips its dozen widgets. Closed, the choices are kept as they are.
    panel = st.expander("Lesson link", icon=":material/school:", key=PANEL_KEY,
                        on_change="rerun")
    if not panel.open:
        for k in PANEL_WIDGETS:  # undrawn widgets lose their state: keep the teacher's
            if k in st.session_state:
                st.session_state[k] = st.session_state[k]
        return
    model = shared_name(model)  # an upload goes by its published copy's name (ui.publish)
    with panel:
        st.caption(f"A link that opens this app on {model} with parts left out, for a "
                   "class. Pages to hide:")
        titles = {p.removeprefix("pages/").removesuffix(".py"): t for p, t, _ in PAGES[1:]}
        hide = {stem for stem, title in titles.items()
                if st.checkbox(title, key=f"lesson_hide_{stem}")}
        if st.checkbox("Hide the model upload", key="lesson_hide_upload"):
            hide.add("upload")
        lock = st.checkbox(f"Keep the model ({model})", key="lesson_lock",
                           help="no model picker and no upload: students stay on this model")
        start = st.selectbox("Opens on", ["", *(s for s in titles if s not in hide)],
                             format_func=lambda s: titles.get(s, PAGES[0][1]),
                             key="lesson_start")
        lesson = Lesson(frozenset(hide), frozenset({"model"} if lock else ()),
                        model if lock else None)
        url = st.context.url or ""
        host = urlsplit(url).hostname or ""
        st.code(lesson_url(url, start, lesson, model=model), language=None, wrap_lines=True)
        if host in LOCAL_HOSTS:
            ip = lan_address()
            if ip:
                st.warning(f"Students cannot open `{host}`: it is their own computer. Hand "
                           "out this machine's address on your network:", icon=":material/lan:")
                st.code(lesson_url(url, start, lesson, ip, model), language=None,
                        wrap_lines=True)
            else:
                st.warning(f"Students cannot open `{host}`: it is their own computer, and "
                           "this machine has no network address. Connect it to the class "
                           "network, then find its address (`hostname -I` on Linux, "
                           "`ipconfig` on Windows) and put it in place of the host.",
                           icon=":material/lan:")
        st.caption("Copy it with the icon at the box's right. The server can enforce a lesson "
                   "for everyone: `python -m deploy --lesson \"hide=train,upload&lock=model\"`.")

