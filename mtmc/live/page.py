"""The live server's index page: every camera's MJPEG stream with its name, and stats refreshed from the API.

One static HTML page with a short script that polls ``/api/stats`` every second; with an access
token the page passes its own query string (the token) on to its streams and API calls.
"""

from __future__ import annotations

import html
import urllib.parse
from collections.abc import Sequence

INDEX = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>vehicle-mtmc live</title>
<style>
body {{ font-family: sans-serif; margin: 1em; background: #111; color: #eee; }}
.grid {{ display: flex; flex-wrap: wrap; gap: 1em; }}
figure {{ margin: 0; }} img {{ max-width: 640px; width: 100%; border: 1px solid #444; }}
figcaption {{ font-weight: bold; margin: .3em 0; }} .stats {{ font-weight: normal; color: #aaa; }}
</style></head>
<body><h1>vehicle-mtmc live</h1><p id="summary">starting...</p>
<div class="grid">{figures}</div>
<script>
async function refresh() {{
  try {{
    const s = await (await fetch('/api/stats' + location.search)).json();
    document.getElementById('summary').textContent =
      `${{s.cameras}} cameras, ${{s.total_tracks}} active tracks, ${{s.global_ids}} global ids, ` +
      `clustering round ${{s.cluster_rounds}}`;
    for (const c of s.per_camera) {{
      const el = document.getElementById('stats-' + c.name);
      if (el) el.textContent = ` ${{c.fps.toFixed(1)}} fps, ${{c.tracks}} tracks, frame ${{c.frames}}`;
    }}
  }} catch (e) {{}}
}}
setInterval(refresh, 1000); refresh();
</script></body></html>
"""
FIGURE = (
    '<figure><figcaption>{name}<span class="stats" id="stats-{name}"></span></figcaption>'
    '<img src="/{name}.mjpg{query}" alt="camera {name}"></figure>'
)


def index_page(cameras: Sequence[str], token: str) -> bytes:
    """The UTF-8 page for ``cameras``; their stream addresses carry ``token`` when one is set."""
    suffix = "?" + urllib.parse.urlencode({"token": token}) if token else ""
    figures = "".join(FIGURE.format(name=html.escape(n), query=html.escape(suffix)) for n in cameras)
    return INDEX.format(figures=figures).encode()
