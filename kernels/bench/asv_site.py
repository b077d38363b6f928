"""`python -m kernels asv-offline [HTML_DIR]`: make the site `asv publish` wrote viewable
without internet access.

asv 0.6.6's index.html loads jQuery, flot, stupidtable, blueimp-md5 and Bootstrap from CDNs
and shows only an error page when one of them fails to load; asv ships no local copies and
has no option for them, and `asv publish` rewrites the folder each time. This command takes
the same releases from the npm registry (once, into ~/.cache/convbench/asv-www, with npm),
copies them into HTML_DIR/vendor and points index.html at them, with the integrity hashes
recomputed so the browser still verifies every file. Run it after each `asv publish`.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

# npm releases of what asv 0.6.6 loads from CDNs (stupid-table-plugin: npm has no 1.0.1;
# 1.1.3 has the same $.fn.stupidtable API).
PACKAGES = ("jquery@3.3.1", "flot@0.8.3", "flot-orderbars@1.0.0", "stupid-table-plugin@1.1.3",
            "blueimp-md5@2.19.0", "bootstrap@3.1.1")
CDN_TO_NPM = {  # the URL in index.html -> the same file in node_modules
    "https://code.jquery.com/jquery-3.3.1.min.js": "jquery/dist/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.min.js": "flot/jquery.flot.js",
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.time.min.js":
        "flot/jquery.flot.time.js",
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.selection.min.js":
        "flot/jquery.flot.selection.js",
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.categories.min.js":
        "flot/jquery.flot.categories.js",
    "https://cdn.jsdelivr.net/npm/flot-orderbars@1.0.0/js/jquery.flot.orderBars.js":
        "flot-orderbars/js/jquery.flot.orderBars.js",
    "https://cdnjs.cloudflare.com/ajax/libs/stupidtable/1.0.1/stupidtable.min.js":
        "stupid-table-plugin/stupidtable.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/blueimp-md5/2.19.0/js/md5.min.js":
        "blueimp-md5/js/md5.min.js",
    "https://cdn.jsdelivr.net/npm/bootstrap@3.1.1/dist/js/bootstrap.min.js":
        "bootstrap/dist/js/bootstrap.min.js",
    "https://cdn.jsdelivr.net/npm/bootstrap@3.1.1/dist/css/bootstrap.min.css":
        "bootstrap/dist/css/bootstrap.min.css",
}
FOLDERS = ("bootstrap/dist/fonts",)  # bootstrap.min.css loads ../fonts/glyphicons-*


class SiteError(Exception):
    """Why the site cannot be made offline-ready: one line for the user."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "convbench" / "asv-www"


def fetch_packages(prefix: Path) -> Path:
    """node_modules holding PACKAGES, installed with npm unless already there."""
    modules = prefix / "node_modules"
    if all((modules / path).is_file() for path in CDN_TO_NPM.values()):
        return modules
    npm = shutil.which("npm")
    if npm is None:
        raise SiteError("needs npm (Node.js) once, to fetch " + ", ".join(PACKAGES))
    prefix.mkdir(parents=True, exist_ok=True)
    result = subprocess.run([npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund",
                             "--ignore-scripts", "--no-save", *PACKAGES],
                            capture_output=True, text=True)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise SiteError(f"npm install failed ({last})")
    return modules


def _integrity(path: Path) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()


def localize(html_dir: Path, modules: Path) -> int:
    """Copy the files into html_dir/vendor and rewrite index.html; returns how many external
    resources the page still loads (0 when done)."""
    index = html_dir / "index.html"
    try:
        text = index.read_text(encoding="utf-8")
    except OSError:
        raise SiteError(f"{index} not found: run `asv publish` first") from None
    for url, relative in CDN_TO_NPM.items():
        tag = re.search(r'<(?:script|link)\b[^>]*"' + re.escape(url) + r'"[^>]*>', text)
        if tag is None:
            if f'"vendor/{relative}"' in text:
                continue  # already local: running twice is harmless
            raise SiteError(f"{index} does not load {url}: not the asv 0.6.6 page this knows")
        copy = html_dir / "vendor" / relative
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(modules / relative, copy)
        local = tag[0].replace(url, f"vendor/{relative}")
        local = re.sub(r'integrity="[^"]*"', f'integrity="{_integrity(copy)}"', local)
        text = text.replace(tag[0], local)
    for folder in FOLDERS:
        shutil.copytree(modules / folder, html_dir / "vendor" / folder, dirs_exist_ok=True)
    index.write_text(text, encoding="utf-8")
    return len(re.findall(r'<(?:script|link)\b[^>]*(?:src|href)="https?://', text))


def main(argv) -> int:
    if argv[:1] in (["-h"], ["--help"]):
        print(__doc__)
        return 0
    if len(argv) > 1:
        print("usage: python -m kernels asv-offline [HTML_DIR]  (default .asv/html)",
              file=sys.stderr)
        return 2
    html_dir = Path(argv[0] if argv else ".asv/html")
    try:
        external = localize(html_dir, fetch_packages(cache_dir()))
    except (SiteError, OSError) as e:
        print(f"python -m kernels asv-offline: error: {e}", file=sys.stderr)
        return 2
    print(f"{html_dir}/index.html now loads its scripts from {html_dir}/vendor "
          f"({external} external resources left); view it with: asv preview")
    return 0
