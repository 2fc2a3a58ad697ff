"""Render sanitized XSS vectors in headless Chromium and check that nothing executes."""

from __future__ import annotations

import html
import json
import time
from collections import defaultdict
from dataclasses import dataclass
from dataclasses import field

import pytest

from moderation.sanitize import clean_comment_html

# The vectors and the output policy are test_sanitize.py's, which names each vector
# source and its licence (OWASP CC BY-SA 4.0, html5lib MIT, bleach Apache-2.0).
from tests.test_sanitize import ALLOWED_PROTOCOLS
from tests.test_sanitize import OUTPUT_ATTRIBUTES
from tests.test_sanitize import XSS_ABSENT
from tests.test_sanitize import XSS_DIR
from tests.test_sanitize import XSS_VECTORS

pytestmark = pytest.mark.browser

ORIGIN = "http://xss.test"
BATCH_SIZE = 100
SETTLE_MS = 700
SRCDOC_URLS = {
    "about:srcdoc",
    "about:blank",
}  # after load: timers, meta refresh and late events get to fire

# Runs in every frame before any of its content: any dialog, print or console call
# is reported through the exposed binding (a dialog that slips past is caught by the
# page's "dialog" event too).
HOOKS = """
(() => {
  const report = (kind, args) => {
    try { window.__xssReport(kind, Array.from(args).map(String).join(" ")); }
    catch (e) {}
  };
  for (const name of ["alert", "confirm", "prompt", "print"]) {
    window[name] = function () { report("hook:" + name, arguments); return null; };
  }
  for (const name of Object.keys(console)) {
    if (typeof console[name] === "function") {
      console[name] = function () { report("console:" + name, arguments); };
    }
  }
})();
"""

# Describe what the browser built from each snippet: every element under #c with its
# namespace, attributes and, for URL attributes, the scheme the browser's own URL
# parser sees.
INSPECT = """
() => Array.from(document.querySelectorAll("iframe")).map((frame) => {
  const doc = frame.contentDocument;
  const root = doc && doc.getElementById("c");
  if (!root) return {name: frame.name, missing: true, elements: []};
  const elements = Array.from(root.querySelectorAll("*")).map((el) => ({
    tag: el.localName,
    ns: el.namespaceURI,
    attrs: Array.from(el.attributes).map((a) => {
      let scheme = null;
      if (a.name === "href" || a.name === "cite") {
        try { scheme = new URL(a.value).protocol; } catch (e) { scheme = "invalid"; }
      }
      return [a.name, a.value, scheme];
    }),
  }));
  return {name: frame.name, missing: false, elements};
})
"""


# Then act like a reader: hover, focus and press over every element, and click every
# link. A click on an http(s)/mailto link is cancelled (a capture listener sees the
# URL the browser resolved): following it is the link's job, not an attack, and it
# would unload the frame. Any other link (javascript:, data:, ...) is followed.
INTERACT = """
() => {
  const events = ["mouseover", "mouseenter", "mousemove", "mousedown", "mouseup",
                  "mouseout", "mouseleave", "pointerover", "pointerdown", "pointerup",
                  "focus", "focusin", "blur", "dblclick", "contextmenu", "keydown",
                  "keyup", "input", "change", "wheel", "copy", "paste"];
  for (const frame of document.querySelectorAll("iframe")) {
    const win = frame.contentWindow;
    const doc = frame.contentDocument;
    if (!win || !doc || !doc.body) continue;
    win.addEventListener("click", (event) => {
      const link = event.target.closest && event.target.closest("a[href]");
      if (!link) return;
      let protocol = null;
      try { protocol = new URL(link.href).protocol; } catch (e) {}
      if (["http:", "https:", "mailto:"].includes(protocol)) event.preventDefault();
    }, true);
    const elements = [doc.body, ...doc.body.querySelectorAll("*")];
    for (const el of elements) {
      for (const type of events) {
        try { el.dispatchEvent(new MouseEvent(type, {bubbles: true})); } catch (e) {}
      }
    }
    for (const link of doc.body.querySelectorAll("a")) {
      try { link.click(); } catch (e) {}
    }
  }
}
"""


@dataclass
class Harness:
    """Serve snippets on a fake origin, one iframe each, and record what they do."""

    context: object
    documents: dict[str, str] = field(default_factory=dict)
    signals: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def __post_init__(self) -> None:
        self.context.add_init_script(HOOKS)
        self.context.expose_binding("__xssReport", self._on_report)
        self.context.route("**/*", self._on_route)
        self.context.on("page", self._on_page)

    @staticmethod
    def _vector_of(frame) -> str:
        """Name the vector a frame belongs to: its top-most iframe's name."""
        try:
            while frame.parent_frame and frame.parent_frame.parent_frame:
                frame = frame.parent_frame
            return frame.name or "?"
        except Exception:  # a detached frame
            return "?"

    def _record(self, frame, signal: str) -> None:
        self.signals[self._vector_of(frame) if frame else "?"].append(signal)

    def _on_report(self, source, kind: str, detail: str) -> None:
        self._record(source.get("frame"), f"{kind} {detail[:80]}")

    def _on_route(self, route) -> None:
        body = self.documents.get(route.request.url)
        if body is not None:
            route.fulfill(status=200, content_type="text/html; charset=utf-8", body=body)
            return
        frame = None
        try:
            frame = route.request.frame
        except Exception:  # a request from a service worker or a closed frame
            frame = None
        self._record(frame, f"request {route.request.url[:100]}")
        route.abort()

    def _on_page(self, page) -> None:
        page.on("dialog", self._on_dialog)
        page.on("pageerror", lambda error: self.signals["?"].append(f"error {error}"))
        page.on("frameattached", self._on_frame_attached)
        page.on("framenavigated", self._on_frame_navigated)
        if page.opener() is not None:
            self.signals["?"].append(f"popup {page.url}")

    def _on_dialog(self, dialog) -> None:
        self.signals["?"].append(f"dialog {dialog.type} {dialog.message[:80]}")
        dialog.dismiss()

    def _on_frame_attached(self, frame) -> None:
        # Our own iframes are children of the batch page; anything deeper is content.
        if frame.parent_frame and frame.parent_frame.parent_frame:
            self._record(frame, "frame attached")

    def _on_frame_navigated(self, frame) -> None:
        if frame.url not in self.documents and frame.url not in SRCDOC_URLS:
            self._record(frame, f"navigation {frame.url[:100]}")

    def render(self, snippets: dict[str, str]) -> list[dict]:
        """Render each snippet in its own iframe; return what the browser built."""
        inspected = []
        names = list(snippets)
        for start in range(0, len(names), BATCH_SIZE):
            batch = names[start : start + BATCH_SIZE]
            page_url = f"{ORIGIN}/batch/{start}"
            frames = []
            for name in batch:
                document = (
                    '<!doctype html><html><head><meta charset="utf-8">'
                    "<title>vector</title></head><body><div id=c>"
                    f"{snippets[name]}</div></body></html>"
                )
                frames.append(
                    f'<iframe name="{name}" srcdoc="{html.escape(document)}"'
                    ' width="300" height="60"></iframe>'
                )
            self.documents[page_url] = (
                '<!doctype html><html><head><meta charset="utf-8"><title>batch</title>'
                f"</head><body>{''.join(frames)}</body></html>"
            )
            page = self.context.new_page()
            try:
                page.goto(page_url, wait_until="load", timeout=30_000)
                for step in (INSPECT, INTERACT):
                    page.wait_for_timeout(SETTLE_MS)
                    if page.url != page_url:
                        self.signals["?"].append(f"batch navigated to {page.url}")
                        break
                    result = page.evaluate(step)
                    inspected.extend(result or [])
            finally:
                page.close()
        return inspected


@pytest.fixture
def harness(browser):
    """Yield a fresh Harness in its own browser context."""
    context = browser.new_context(java_script_enabled=True)
    try:
        yield Harness(context)
    finally:
        context.close()


def test_sanitized_vectors_do_nothing_in_chromium(harness):
    if not XSS_VECTORS:
        pytest.skip(XSS_ABSENT)
    started = time.monotonic()
    ids = {f"v{n}": vector_id for n, (vector_id, _) in enumerate(XSS_VECTORS)}
    snippets = {
        f"v{n}": clean_comment_html(payload).html for n, (_, payload) in enumerate(XSS_VECTORS)
    }
    inspected = harness.render(snippets)

    fired = {ids.get(name, name): sig for name, sig in harness.signals.items() if sig}
    assert not fired, fired
    assert len(inspected) == len(snippets)
    problems = []
    for frame in inspected:
        where = ids[frame["name"]]
        if frame["missing"]:
            problems.append((where, "snippet container missing"))
        for element in frame["elements"]:
            tag = element["tag"]
            if element["ns"] != "http://www.w3.org/1999/xhtml":
                problems.append((where, f"{tag} in namespace {element['ns']}"))
            if tag not in OUTPUT_ATTRIBUTES:
                problems.append((where, f"element {tag}"))
                continue
            attrs = {name: (value, scheme) for name, value, scheme in element["attrs"]}
            for name, (value, scheme) in attrs.items():
                if name not in OUTPUT_ATTRIBUTES[tag]:
                    problems.append((where, f"{tag}[{name}={value!r}]"))
                if scheme is not None and scheme.rstrip(":") not in ALLOWED_PROTOCOLS:
                    problems.append((where, f"{tag}[{name}] scheme {scheme}"))
            if tag == "a" and attrs.get("rel", (None,))[0] != "nofollow ugc":
                problems.append((where, f"a without rel: {attrs}"))
    assert not problems, problems
    assert time.monotonic() - started < 60


def test_raw_positive_controls_are_caught(harness):
    # Render the vectors that did execute unsanitized through the same harness: if
    # it did not see them, "nothing fired" above would prove nothing.
    path = XSS_DIR / "positive-controls.derived.jsonl"
    if not path.exists():
        pytest.skip(XSS_ABSENT)
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line]
    snippets = {f"v{n}": row["payload"] for n, row in enumerate(rows)}
    harness.render(snippets)

    caught = {name for name, sig in harness.signals.items() if sig and name != "?"}
    missed = sorted(
        (rows[int(name[1:])]["id"], rows[int(name[1:])]["signals"])
        for name in snippets
        if name not in caught
    )
    assert len(caught & set(snippets)) >= 0.9 * len(snippets), missed
