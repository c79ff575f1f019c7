// The latent pad in a Jupyter notebook: the entry module of vae_core.explore's anywidget.
//
// anywidget loads this one module from text (a blob: URL), so a relative import ("./pad.js")
// would not resolve. Python sends the pad's module sources instead (traitlet _modules: file
// name -> text) and linkModules turns them into blob: URLs, dependencies first, rewriting
// each "./x.js" specifier to its module's URL: the page then runs the same ES modules the app
// serves, with no bundler and nothing fetched. The payloads (decoder weights, test codes,
// their images, the classifier) arrive as binary traitlets (DataView) and become object URLs
// that blobs.js fetches as it fetches the app's media URLs.
//
// pad.js is a Streamlit components-v2 host: it is called with {parentElement, data} and
// calls setStateValue("release", {z, n, have}) when the user lets go. Here a release sets
// the model's z (Python's w.z), and a z, label or range set from Python updates the pad.

// `from "./x.js"`, `import "./x.js"`, `import("./x.js")`: a sibling module's specifier.
const SIBLING = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(["'])\.\/([\w.-]+\.js)\2/g;

/** Link the modules `sources` (file name -> source text) from `entry`: each module's sibling
 *  specifiers become the URL that url(text, name) made for that sibling, which is made first;
 *  returns the entry's URL. Throws on a missing module or an import cycle. */
export function linkModules(sources, entry, url) {
  const urls = new Map();
  const visit = (name, path) => {
    if (urls.has(name)) return urls.get(name);
    if (path.includes(name)) throw new Error(`import cycle: ${[...path, name].join(" -> ")}`);
    if (!Object.hasOwn(sources, name)) {
      throw new Error(`module ./${name} is missing${path.length ? ` (imported by ${path.at(-1)})` : ""}`);
    }
    const text = sources[name].replace(SIBLING, (_, head, q, dep) =>
      `${head}${q}${visit(dep, [...path, name])}${q}`);
    const made = url(text, name);
    urls.set(name, made);
    return made;
  };
  return visit(entry, []);
}

// Page-wide, so every widget of the same sources shares one pad module (and its payload
// cache, keyed by content hash), and each payload gets one object URL.
const shared = globalThis.__latentPadWidget ||= { modules: new Map(), urls: new Map() };

/** The pad.js module linked from these sources (a promise), loaded once per page. */
function padModule(sources) {
  const key = JSON.stringify(sources);
  if (!shared.modules.has(key)) {
    const made = [];
    const entry = linkModules(sources, "pad.js", (text) => {
      const u = URL.createObjectURL(new Blob([text], { type: "text/javascript" }));
      made.push(u);
      return u;
    });
    const p = import(/* webpackIgnore: true */ entry);
    // Every static import is fetched once the entry has loaded: the URLs can go.
    p.finally(() => made.forEach((u) => URL.revokeObjectURL(u)));
    shared.modules.set(key, p);
  }
  return shared.modules.get(key);
}

/** The object URL of a payload (ref = {hash, ...}) whose bytes are the DataView `view`. */
function payloadUrl(ref, view) {
  if (!shared.urls.has(ref.hash)) {
    shared.urls.set(ref.hash, URL.createObjectURL(new Blob([view])));
  }
  return shared.urls.get(ref.hash);
}

/** The `data` the app's pad gets, from the widget's traitlets; ack names the last release
 *  Python has taken (pad.js keeps a newer local z instead of an older echo). */
export function padData(model, ack) {
  const d = model.get("_data");
  const ref = (name) => {
    const r = d[name], view = model.get(`_${name}_bytes`);
    return r && view ? { ...r, url: payloadUrl(r, view) } : null;
  };
  return { ...d, decoder: ref("decoder"), points: ref("points"), images: ref("images"),
           reader: ref("reader"), z: model.get("z").slice(), label: model.get("label"),
           range: model.get("range"), ack };
}

function render({ model, el }) {
  const host = document.createElement("div");
  host.className = "latent-pad-widget";
  el.appendChild(host);
  let pad = null, unmount = null, alive = true, ack = null;
  const component = {
    parentElement: host,
    data: null,
    setStateValue(name, value) {
      if (name !== "release") return;
      ack = value.n;  // set first: model.set fires change:z at once, which shows it
      model.set("z", value.z.slice());
      model.save_changes();
    },
    setTriggerValue() {},  // "need": every payload has its URL here, there is nothing to ask
  };
  const show = () => {
    if (!alive || !pad) return;
    component.data = padData(model, ack);
    unmount = pad.default(component);
  };
  padModule(model.get("_modules")).then((m) => { pad = m; show(); }, (err) => {
    host.textContent = `The latent pad could not load: ${err && err.message ? err.message : err}`;
  });
  const events = ["change:z", "change:label", "change:range"];
  for (const e of events) model.on(e, show);
  return () => {
    alive = false;
    for (const e of events) model.off(e, show);
    if (unmount) unmount();
    host.remove();
  };
}

export default { render };
