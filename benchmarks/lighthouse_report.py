"""Lighthouse's mobile audit of a built report: the report page and every executed-notebook page.

Usage: lighthouse_report.py [REPORTS] [--gzip] [--json OUT]   (REPORTS defaults to reports/)

Serves REPORTS over HTTP on 127.0.0.1 (plain files, as a bare static server sends them; --gzip
compresses HTML, SVG and JSON as most web hosts do) and runs the `lighthouse` command (npm package
`lighthouse`, found on PATH, in ./node_modules/.bin or as $LIGHTHOUSE) in its default mobile mode:
a mid-range phone on a slow 4G network (simulated). Chromium comes from $CHROME_PATH, else
/usr/bin/chromium. Prints, per page, the performance, accessibility and best-practices scores,
the main timings, the bytes sent, the number of elements, and each failed accessibility or
best-practices audit.

Not part of `make test`: the scores depend on how busy the machine is (total blocking time above
all), and an audit takes about half a minute a page. The browser suite checks what can be checked
exactly (sizes, element counts, text sizes and overlaps, print, axe). To install Lighthouse:
`npm install --prefix /tmp/lighthouse lighthouse`, then LIGHTHOUSE=/tmp/lighthouse/node_modules/.bin/lighthouse.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

COMPRESSED = (".html", ".svg", ".json", ".css", ".js", ".ipynb")
TIMINGS = (
    ("first-contentful-paint", "FCP"),
    ("largest-contentful-paint", "LCP"),
    ("speed-index", "SI"),
    ("total-blocking-time", "TBT"),
    ("cumulative-layout-shift", "CLS"),
)


class Handler(http.server.SimpleHTTPRequestHandler):
    """Static files; with `gzip` set, text files sent compressed when the browser accepts it."""

    gzip = False

    def log_message(self, *args) -> None:  # quiet
        pass

    def send_head(self):
        path = Path(self.translate_path(self.path))
        accepts = "gzip" in self.headers.get("Accept-Encoding", "")
        if not (self.gzip and accepts and path.is_file() and path.suffix in COMPRESSED):
            return super().send_head()
        body = gzip.compress(path.read_bytes(), compresslevel=6)
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        return None


def lighthouse_command() -> str:
    """The lighthouse executable: $LIGHTHOUSE, PATH, or ./node_modules/.bin."""
    found = os.environ.get("LIGHTHOUSE") or shutil.which("lighthouse")
    local = Path("node_modules/.bin/lighthouse")
    if not found and local.is_file():
        found = str(local)
    if not found:
        sys.exit("no lighthouse: npm install --prefix /tmp/lighthouse lighthouse, set LIGHTHOUSE")
    return found


def audit(url: str, command: str) -> dict:
    """One Lighthouse run (mobile: performance, accessibility, best practices) as its JSON result."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "lh.json"
        subprocess.run(
            [
                command,
                url,
                "--quiet",
                "--only-categories=performance,accessibility,best-practices",
                "--output=json",
                f"--output-path={out}",
                "--chrome-flags=--headless=new --no-sandbox",
            ],
            check=True,
            env={**os.environ, "CHROME_PATH": os.environ.get("CHROME_PATH", "/usr/bin/chromium")},
        )
        return json.loads(out.read_text())


def summary(page: str, result: dict) -> dict:
    """Scores, timings, bytes, elements and failed accessibility audits of one page."""
    audits, categories = result["audits"], result["categories"]
    failed = [
        ref["id"]
        for category in ("accessibility", "best-practices")
        for ref in categories[category]["auditRefs"]
        if ref["weight"] > 0 and audits[ref["id"]]["score"] not in (None, 1)
    ]
    return {
        "page": page,
        "performance": round(100 * categories["performance"]["score"]),
        "accessibility": round(100 * categories["accessibility"]["score"]),
        "best_practices": round(100 * categories["best-practices"]["score"]),
        **{short: audits[name]["numericValue"] for name, short in TIMINGS},
        "bytes": audits["total-byte-weight"]["numericValue"],
        "elements": audits["dom-size"]["numericValue"],
        "failed": failed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="?", default="reports", type=Path)
    parser.add_argument("--gzip", action="store_true", help="compress text files, as web hosts do")
    parser.add_argument("--json", type=Path, help="also write the summaries to this file")
    args = parser.parse_args()
    pages = ["index.html"] + sorted(
        p.relative_to(args.reports).as_posix() for p in args.reports.glob("runs/*/notebooks/*.html")
    )
    Handler.gzip = args.gzip
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(args.reports))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    command = lighthouse_command()
    rows = []
    try:
        for page in pages:
            url = f"http://127.0.0.1:{server.server_port}/{page}"
            rows.append(summary(page, audit(url, command)))
            row = rows[-1]
            print(
                f"{row['performance']:3d} perf {row['accessibility']:3d} a11y "
                + f"{row['best_practices']:3d} best  "
                + f"FCP {row['FCP'] / 1000:.1f} s  LCP {row['LCP'] / 1000:.1f} s  "
                + f"SI {row['SI'] / 1000:.1f} s  TBT {row['TBT']:,.0f} ms  CLS {row['CLS']:.3f}"
                + f"  {row['bytes'] / 1024:,.0f} KiB sent, {row['elements']:,.0f} elements  {page}"
                + (f"  failed: {', '.join(row['failed'])}" if row["failed"] else ""),
                flush=True,
            )
    finally:
        server.shutdown()
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
