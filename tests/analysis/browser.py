"""A headless-browser check of a self-contained HTML page (Chromium from the Debian packages).

The page is copied with a probe script injected first in <head>: it records every script error, every
resource that fails to load (capture-phase error events), every console.error, and on load writes what it
saw as JSON into the DOM, which ``chromium --headless --dump-dom`` prints. External hosts resolve nowhere
(--host-resolver-rules), so a page that needs the network fails the check instead of waiting on it.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT = 120

_PROBE = """<script>
window.__probe = {errors: []};
(function () {
  var original = console.error;
  console.error = function () {
    window.__probe.errors.push('console.error: ' + Array.prototype.join.call(arguments, ' '));
    return original.apply(console, arguments);
  };
  window.addEventListener('error', function (e) {
    var t = e.target;
    var what = (t && t !== window) ? 'failed to load ' + t.tagName + ' ' + String(t.src || t.href).slice(0, 60)
                                   : 'script error: ' + e.message;
    window.__probe.errors.push(what);
  }, true);
  window.addEventListener('unhandledrejection', function (e) {
    window.__probe.errors.push('unhandled rejection: ' + e.reason);
  });
  window.addEventListener('load', function () {
    var out = document.createElement('pre');
    out.id = '__probe';
    out.textContent = JSON.stringify({
      errors: window.__probe.errors,
      images: Array.prototype.map.call(document.images, function (i) {
        return {alt: i.alt, complete: i.complete, width: i.naturalWidth, height: i.naturalHeight};
      }),
      sections: Array.prototype.map.call(document.querySelectorAll('section[id]'), function (s) {
        return {id: s.id, headings: s.querySelectorAll('h2').length, height: s.getBoundingClientRect().height};
      }),
      title: document.title
    });
    document.body.appendChild(out);
  });
})();
</script>"""


@dataclass(frozen=True)
class Rendered:
    """What the browser saw: errors, each image's decoded size, each <section id=...>."""

    errors: list[str]
    images: list[dict]
    sections: list[dict]
    title: str

    def undecoded(self) -> list[str]:
        """Alt texts of the images not decoded to a non-empty bitmap."""
        return [i["alt"] for i in self.images if not (i["complete"] and i["width"] > 0 and i["height"] > 0)]


def find_browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def render(browser: str, page: Path, work: Path) -> Rendered:
    """Load ``page`` (with the probe) in headless ``browser`` and return what the probe recorded."""
    text = page.read_text(encoding="utf-8")
    probed = work / f"probed-{page.name}"
    probed.write_text(re.sub(r"<head>", "<head>" + _PROBE, text, count=1), encoding="utf-8")
    done = subprocess.run(
        [
            browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
            "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={work / 'browser-profile'}",
            "--virtual-time-budget=30000", "--window-size=1320,4000", "--dump-dom", probed.resolve().as_uri(),
        ],
        capture_output=True, text=True, timeout=TIMEOUT,
    )  # fmt: skip
    found = re.search(r'<pre id="__probe">(.*?)</pre>', done.stdout, flags=re.DOTALL)
    assert found, f"{browser} exited {done.returncode} without the probe's result; stderr ends:\n{done.stderr[-2000:]}"
    return Rendered(**json.loads(html.unescape(found.group(1))))
