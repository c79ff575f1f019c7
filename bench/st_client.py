"""A minimal async client for Streamlit's own websocket protocol (checked against 1.67).

It sends what the browser's frontend sends and keeps what it receives, without rendering:

* `GET /_stcore/health` sets the `_streamlit_xsrf` cookie (XSRF protection is on by default).
* `ws://host/_stcore/stream`, subprotocols `["streamlit", <xsrf token>]`, the cookie; nothing
  arrives until a `rerun_script` BackMsg (ClientState: page hash or name, widget states,
  fragment id, context). Every run, full or fragment, starts with `new_session` (session id,
  run id, its fragment ids) and ends with `script_finished` (FINISHED_EARLY_FOR_RERUN: another
  run follows). `navigation` maps st.navigation's url paths to page hashes. Deltas carry a
  delta path (0 main area, 1 sidebar), their fragment id and the writing page's hash.
* Uploads: `file_urls_request` -> `file_urls_response` (upload URL) -> multipart PUT with the
  X-Xsrftoken header -> a rerun whose widget state is a FileUploaderState.

Errors to count: `take_errors()` (page_not_found, compile errors, ref_hash), `problems()`
(exception elements, error alerts in the main area), and the raised TimeoutError,
SessionLost (websocket closed) and HttpError (status >= 400).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Block_pb2 import Block
from streamlit.proto.Element_pb2 import Element
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.Markdown_pb2 import Markdown
from streamlit.proto.NumberInput_pb2 import NumberInput
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

XSRF_COOKIE = "_streamlit_xsrf"
MAIN = 0  # first number of a delta path: the main area (1 is the sidebar)
Headers = list[tuple[str, str]]  # (lower-case name, value), repeated names kept
_FULL_RUN_END = (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR)


class StreamlitError(RuntimeError):
    """The server refused or broke something the client asked for."""


class HttpError(StreamlitError):
    """An HTTP request (media, upload) answered with status >= 400."""


class SessionLost(StreamlitError):
    """The websocket was closed: the session is gone."""


@dataclass
class Node:
    """One delta as the frontend keeps it: an element or a block at a delta path."""

    msg: Element | Block
    run: str  # script run id that wrote it (stale nodes are dropped when a run ends)
    fragment_id: str
    script_hash: str  # the page (or main script) that wrote it

    @property
    def kind(self) -> str:
        """Element type ("imgs", "slider", ...) or "block"."""
        return self.msg.WhichOneof("type") if isinstance(self.msg, Element) else "block"

    @property
    def body(self):
        return self.msg if isinstance(self.msg, Block) else getattr(self.msg, self.kind)


@dataclass
class Image:
    url: str
    caption: str


def _initial_state(kind: str, w) -> WidgetState | None:
    """The state the frontend sets when it mounts a widget (None: it sets none)."""
    s = WidgetState(id=w.id)
    if kind == "slider":
        s.double_array_value.data[:] = list(w.value if w.set_value else w.default)
    elif kind == "checkbox":
        s.bool_value = w.value if w.set_value else w.default
    elif kind == "number_input" and (w.HasField("value") or w.HasField("default")):
        v = w.value if w.HasField("value") else w.default
        if w.data_type == NumberInput.INT:
            s.int_value = int(v)
        else:
            s.double_value = v
    elif kind in ("selectbox", "radio") and (w.HasField("raw_value") or (
            w.HasField("default") and w.default < len(w.options))):
        s.string_value = w.raw_value if w.HasField("raw_value") else w.options[w.default]
    else:  # buttons are triggers; uploaders and components set theirs when used
        return None
    return s


class StClient:
    """One Streamlit session over one websocket, driven like a browser tab."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout  # seconds for one wait on the server (a run, a response)
        self.ws: ClientConnection | None = None
        self.xsrf = ""
        self.cookies: dict[str, str] = {}  # every cookie set (a proxy's affinity cookie too)
        self.session_id = self.main_hash = self.page_hash = ""
        self.pages: dict[str, str] = {}  # url path ("" = default page) -> page script hash
        self.nodes: dict[tuple[int, ...], Node] = {}
        self.widgets: dict[str, WidgetState] = {}  # what the next rerun sends, by widget id
        self.errors: list[str] = []
        self.running = False
        self.last_status: int | None = None  # ForwardMsg.ScriptFinishedStatus of the last run
        self._run = ""  # id of the latest script run (from its new_session)
        self._frags: frozenset[str] = frozenset()  # the fragments that run runs
        self._runs = 0  # new_session messages seen
        self.held: set[str] = set()  # content hashes of the latent pad's blobs fetched

    # --- HTTP: a tiny client over asyncio streams (no extra dependency, no thread pool) ----
    async def http(self, method: str, target: str, body: bytes = b"",
                   headers: dict[str, str] | None = None) -> tuple[int, Headers, bytes]:
        """One request; returns status, headers, body. HTTP/1.0: the server closes the
        connection after the response and never answers chunked, so the body ends at EOF."""
        u = urlsplit(self.url)
        path = urlsplit(target).path if target.startswith("http") else target
        lines = [f"{method} {path} HTTP/1.0", f"Host: {u.netloc}", f"Content-Length: {len(body)}"]
        headers = {**self._cookie(), **(headers or {})}  # as a browser, send the cookies back
        lines += [f"{k}: {v}" for k, v in headers.items()]
        async with asyncio.timeout(self.timeout):
            reader, writer = await asyncio.open_connection(u.hostname, u.port or 80)
            try:
                writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
                await writer.drain()
                raw = await reader.read()
            finally:
                writer.close()
        head, _, data = raw.partition(b"\r\n\r\n")
        status_line, *rest = head.decode("latin-1").split("\r\n")
        hdrs = [(k.strip().lower(), v.strip()) for k, _, v in (h.partition(":") for h in rest)]
        status = int(status_line.split()[1])
        for k, v in hdrs:
            if k == "set-cookie":
                name, _, value = v.split(";")[0].partition("=")
                self.cookies[name.strip()] = value.strip()
        if status >= 400:
            raise HttpError(f"{method} {path}: HTTP {status} {data[:120]!r}")
        return status, hdrs, data

    async def fetch(self, url: str) -> bytes:
        """GET a media URL as the browser's <img> does; an empty body is an error too."""
        if not (data := (await self.http("GET", url))[2]):
            raise HttpError(f"GET {url}: empty body")
        return data

    # --- the websocket --------------------------------------------------------------------
    async def connect(self, page: str = "") -> None:
        """Open the session and run `page` (a url path, "" = the default page) like a page load."""
        await self.http("GET", "/_stcore/health")
        self.xsrf = self.cookies.get(XSRF_COOKIE, "")
        protocols = ["streamlit"] + ([self.xsrf] if self.xsrf else [])  # the browser's way
        ws_url = "ws" + self.url[4:] + "/_stcore/stream"
        self.ws = await connect(ws_url, subprotocols=protocols, max_size=None, proxy=None,
                                additional_headers=self._cookie(), open_timeout=self.timeout)
        # The first rerun names the page by its url path: the hash is not known yet.
        await self._rerun("", page_name=page.strip("/"))

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()

    def _cookie(self) -> dict[str, str]:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} \
            if self.cookies else {}

    def _conn(self) -> ClientConnection:
        if self.ws is None:
            raise SessionLost("not connected")
        return self.ws

    async def _send(self, msg: BackMsg) -> None:
        try:
            await self._conn().send(msg.SerializeToString())
        except ConnectionClosed as e:
            raise SessionLost(f"websocket closed: {e}") from e

    async def _pump(self, until: Callable[[ForwardMsg], bool], what: str) -> ForwardMsg:
        """Read and apply ForwardMsgs until `until(msg)`; TimeoutError after self.timeout."""
        ws = self._conn()
        try:
            async with asyncio.timeout(self.timeout):
                while True:
                    msg = ForwardMsg.FromString(await ws.recv(decode=False))
                    self._apply(msg)
                    if until(msg):
                        return msg
        except TimeoutError:
            raise TimeoutError(f"no {what} within {self.timeout:.0f} s") from None
        except ConnectionClosed as e:
            raise SessionLost(f"websocket closed: {e}") from e

    async def _rerun(self, page_hash: str, page_name: str = "", fragment_id: str = "") -> None:
        """Send rerun_script with the current widget states; wait until the run chain ends."""
        msg = BackMsg()
        cs = msg.rerun_script
        cs.page_script_hash, cs.page_name, cs.fragment_id = page_hash, page_name, fragment_id
        cs.widget_states.widgets.extend(self.widgets.values())
        ci = cs.context_info
        ci.timezone, ci.timezone_offset, ci.locale = "UTC", 0, "en-US"
        ci.url, ci.is_embedded, ci.color_scheme = f"{self.url}/{page_name}", False, "light"
        started = self._runs
        await self._send(msg)
        # A run started before this request could still end now: wait for one that started
        # after it, and past FINISHED_EARLY_FOR_RERUN (a rerun or st.navigation follows).
        await self._pump(lambda m: m.WhichOneof("type") == "script_finished"
                         and m.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN
                         and self._runs > started, "end of the script run")

    def _apply(self, m: ForwardMsg) -> None:
        """Update the session state the way the frontend does for one ForwardMsg."""
        t = m.WhichOneof("type")
        if t == "new_session":
            ns = m.new_session
            self._runs += 1
            run = m.metadata.run
            self._run, self._frags = run.script_run_id, frozenset(run.fragment_ids)
            self.session_id = ns.initialize.session_id
            self.main_hash, self.page_hash = ns.main_script_hash, ns.page_script_hash
            self.pages = self.pages or {p.url_pathname: p.page_script_hash for p in ns.app_pages}
        elif t == "navigation":  # st.navigation's pages replace the pages/ folder's
            self.pages = {p.url_pathname: p.page_script_hash for p in m.navigation.app_pages}
            self.page_hash = m.navigation.page_script_hash or self.page_hash
        elif t == "delta":
            kind = m.delta.WhichOneof("type")
            if kind not in ("new_element", "add_block"):
                return  # new_transient: spinners and toasts, not part of the page
            node = Node(getattr(m.delta, kind), self._run, m.delta.fragment_id,
                        m.metadata.active_script_hash)
            self.nodes[tuple(m.metadata.delta_path)] = node
            w = node.body
            if kind == "new_element" and getattr(w, "id", "") and (
                    w.id not in self.widgets or getattr(w, "set_value", False)):
                state = _initial_state(node.kind, w)  # new widget, or the script set its value
                if state is not None:
                    self.widgets[w.id] = state
        elif t == "script_finished":
            status = self.last_status = m.script_finished
            if status in _FULL_RUN_END:  # drop what this run did not write again
                self.nodes = {p: n for p, n in self.nodes.items() if n.run == self._run}
            elif status == ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY:
                self.nodes = {p: n for p, n in self.nodes.items()
                              if n.run == self._run or n.fragment_id not in self._frags}
            if status == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                self.errors.append("script_finished: FINISHED_WITH_COMPILE_ERROR")
            if status != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                self._keep_widgets()
        elif t == "session_status_changed":
            self.running = m.session_status_changed.script_is_running
        elif t == "page_not_found":
            self.errors.append(f"page_not_found: {m.page_not_found.page_name!r}")
        elif t == "session_event" and m.session_event.HasField("script_compilation_exception"):
            e = m.session_event.script_compilation_exception
            self.errors.append(f"script compilation exception: {e.type}: {e.message[:200]}")
        elif t == "ref_hash":  # global.minCachedMessageSize is huge: the server must not cache
            self.errors.append(f"ref_hash received ({m.ref_hash[:12]}): ForwardMsg cache is on")

    def _keep_widgets(self) -> None:
        """Forget the states of widgets no longer shown (the frontend's removeInactive)."""
        ids = {getattr(n.body, "id", "") for n in self.nodes.values() if n.kind != "block"}
        self.widgets = {k: v for k, v in self.widgets.items() if k in ids}

    # --- what a user does -----------------------------------------------------------------
    async def goto(self, path: str) -> None:
        """Switch page as the sidebar link does: the old page's elements go first."""
        h = self.pages.get(path.strip("/"))
        if h is None:
            raise StreamlitError(f"no page {path!r} (pages: {sorted(self.pages)})")
        self.nodes = {p: n for p, n in self.nodes.items() if n.script_hash == self.main_hash}
        self._keep_widgets()
        await self._rerun(h)

    def find(self, kind: str, label: str | None = None, area: int = MAIN) -> list[Node]:
        """Elements of one type in one area, in page order (optionally with this label)."""
        return [n for p, n in sorted(self.nodes.items()) if p[0] == area and n.kind == kind
                and (label is None or getattr(n.body, "label", None) == label)]

    def _widget(self, kind: str, label: str | None) -> Node:
        if not (found := self.find(kind, label)):
            raise StreamlitError(f"no {kind} {label or ''} on the page")
        return found[0]

    async def set_slider(self, label: str, value: float) -> None:
        """Move a single-value slider to `value` (what the browser sends once its debounced
        key presses settle) and wait for the run, a fragment run if the slider is in one."""
        node = self._widget("slider", label)
        state = WidgetState(id=node.body.id)
        state.double_array_value.data[:] = [value]
        self.widgets[state.id] = state
        await self._rerun(self.page_hash, fragment_id=node.fragment_id)

    async def set_component_state(self, name: str, state: dict) -> None:
        """Set a components-v2 element's state as its JavaScript's setStateValue does (the
        whole state dict) and wait for the run."""
        found = [n for n in self.find("bidi_component") if n.body.component_name == name]
        if not found:
            raise StreamlitError(f"no component {name!r} on the page")
        node = found[0]
        ws = WidgetState(id=node.body.id)
        ws.json_value = json.dumps(state)
        self.widgets[ws.id] = ws
        await self._rerun(self.page_hash, fragment_id=node.fragment_id)

    async def upload(self, data: bytes, name: str, mime: str = "image/png",
                     label: str | None = None) -> None:
        """Put a file into a st.file_uploader (the first in the main area by default)."""
        node = self._widget("file_uploader", label)
        rid = str(uuid.uuid4())
        req = BackMsg()
        req.file_urls_request.request_id, req.file_urls_request.session_id = rid, self.session_id
        req.file_urls_request.file_names.append(name)
        await self._send(req)
        resp = (await self._pump(lambda m: m.WhichOneof("type") == "file_urls_response"
                                 and m.file_urls_response.response_id == rid,
                                 "file_urls_response")).file_urls_response
        if resp.error_msg or not resp.file_urls:
            raise StreamlitError(f"file URLs refused: {resp.error_msg!r}")
        urls = resp.file_urls[0]
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; "
                f"filename=\"{name}\"\r\nContent-Type: {mime}\r\n\r\n").encode() + data + \
            f"\r\n--{boundary}--\r\n".encode()
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}", **self._cookie()}
        if self.xsrf:
            headers["X-Xsrftoken"] = self.xsrf
        await self.http("PUT", urls.upload_url, body, headers)
        state = WidgetState(id=node.body.id)
        info = state.file_uploader_state_value.uploaded_file_info.add()
        info.file_id, info.name, info.size = urls.file_id, name, len(data)
        info.file_urls.CopyFrom(urls)
        self.widgets[state.id] = state
        await self._rerun(self.page_hash, fragment_id=node.fragment_id)

    # --- what the page shows ----------------------------------------------------------------
    def image(self, caption: str) -> Image | None:
        """The first st.image in the main area whose caption contains `caption`."""
        for n in self.find("imgs"):
            for img in n.body.imgs:
                if caption in img.caption:
                    return Image(img.url, img.caption)
        return None

    def captions(self) -> list[str]:
        """The text of every st.caption in the main area, in page order."""
        return [n.body.body for n in self.find("markdown")
                if n.body.element_type == Markdown.CAPTION]

    def problems(self) -> list[str]:
        """Exception elements anywhere and error alerts in the main area, as shown now."""
        out = []
        for p, n in sorted(self.nodes.items()):
            if n.kind == "exception":
                out.append(f"exception: {n.body.type}: {n.body.message[:200]}")
            elif n.kind == "alert" and n.body.format == Alert.ERROR and p[0] == MAIN:
                out.append(f"error alert: {n.body.body[:200]}")
        return out

    def take_errors(self) -> list[str]:
        """Protocol-level errors seen since the last call."""
        out, self.errors = self.errors, []
        return out
