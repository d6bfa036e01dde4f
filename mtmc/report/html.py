"""The report page: one self-contained HTML file (inline CSS and SVG, images beside it, no script)."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mtmc.report.summary import MemberView, VehicleView

# Distinct colours per camera (Tableau 10), cycled beyond ten cameras.
PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
)  # fmt: skip
TIMELINE_WIDTH, LABEL_WIDTH, ROW_HEIGHT, AXIS_HEIGHT = 900, 56, 16, 28

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;background:#fafafa}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px}
.meta{color:#555}.cams{display:flex;flex-wrap:wrap;gap:16px}
figure{margin:0;background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px}
figure img{display:block;max-width:480px}figcaption{margin-top:4px}
.swatch{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:6px;vertical-align:-1px}
.vehicle{background:#fff;border:1px solid #ddd;border-radius:6px;padding:10px;margin:10px 0}
.vehicle h3{margin:0 0 6px;font-size:16px}.crops{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-end}
.crop img{height:112px;display:block;border-radius:3px}.crop{font-size:12px;color:#444}
.missing{display:flex;align-items:center;justify-content:center;height:112px;width:112px;background:#eee;color:#888}
.warn{color:#b00}details summary{cursor:pointer;font-weight:600;margin:16px 0 8px}
svg text{font:11px system-ui,sans-serif;fill:#333}
.grid{display:flex;flex-wrap:wrap;gap:10px}.grid .vehicle{margin:0;max-width:280px}
"""


@dataclass(frozen=True)
class Page:
    """What the page shows; ``image`` maps a file name to its relative URL (None: not written)."""

    title: str
    meta: str
    cameras: Sequence[tuple[str, int, str | None]]  # name, tracklets, thumbnail URL
    multi: Sequence[VehicleView]
    single: Sequence[VehicleView]
    totals: tuple[int, int]  # all vehicles, multi-camera vehicles
    min_sim: float
    camera_names: Sequence[str]
    image: Callable[[str], str | None]


def colour(camera: int) -> str:
    return PALETTE[camera % len(PALETTE)]


def clock(seconds: float) -> str:
    """``12.3 s`` below a minute, ``m:ss.s`` beyond."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:04.1f}"


def crop_name(global_id: int, member: MemberView) -> str:
    return f"g{global_id}_c{member.camera}_t{member.track_id}.jpg"


def attributes_text(attributes: dict) -> str:
    """Colour, type and plate of a vehicle, as far as known."""
    parts = [str(attributes[k]) for k in ("color", "type") if attributes.get(k)]
    if attributes.get("plate"):
        parts.append(f"plate {attributes['plate']} ({float(attributes.get('plate_conf', 1.0)):.0%})")
    return ", ".join(parts) or "no attributes read"


def timeline_svg(vehicles: Sequence[VehicleView], camera_names: Sequence[str]) -> str:
    """Global vehicles (rows) x time, one bar per tracklet coloured by camera; hover shows the details."""
    if not vehicles:
        return "<p>No vehicles.</p>"
    t0 = min(v.first_s for v in vehicles)
    t1 = max(max(v.last_s for v in vehicles), t0 + 1e-3)
    span = TIMELINE_WIDTH - LABEL_WIDTH - 10
    height = AXIS_HEIGHT + ROW_HEIGHT * len(vehicles)

    def x(t: float) -> float:
        return LABEL_WIDTH + (t - t0) / (t1 - t0) * span

    parts = [f'<svg width="{TIMELINE_WIDTH}" height="{height}" role="img" aria-label="timeline">']
    step = tick_step(t1 - t0)
    tick = step * int(t0 // step)
    while tick <= t1:
        if tick >= t0:
            parts.append(
                f'<line x1="{x(tick):.1f}" y1="14" x2="{x(tick):.1f}" y2="{height}" stroke="#ddd"/>'
                f'<text x="{x(tick):.1f}" y="11" text-anchor="middle">{html.escape(clock(tick))}</text>'
            )
        tick += step
    for row, vehicle in enumerate(vehicles):
        y = AXIS_HEIGHT + row * ROW_HEIGHT
        parts.append(f'<text x="4" y="{y + 11}">G{vehicle.global_id}</text>')
        for m in vehicle.members:
            width = max(x(m.end_s) - x(m.start_s), 2.0)
            tip = (
                f"G{vehicle.global_id} {camera_names[m.camera]} track {m.track_id}: "
                f"{clock(m.start_s)} to {clock(m.end_s)}"
            )
            parts.append(
                f'<rect x="{x(m.start_s):.1f}" y="{y + 2}" width="{width:.1f}" height="{ROW_HEIGHT - 5}" '
                f'rx="2" fill="{colour(m.camera)}" fill-opacity="0.8">'
                f"<title>{html.escape(tip)}</title></rect>"
            )
    parts.append("</svg>")
    return "".join(parts)


def tick_step(span: float) -> float:
    """A round step giving about 5 to 10 ticks over ``span`` seconds."""
    for step in (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600):
        if span / step <= 10:
            return float(step)
    return 3600.0 * (span // 36000 + 1)


def _crop(page: Page, vehicle: VehicleView, member: MemberView) -> str:
    url = page.image(crop_name(vehicle.global_id, member))
    name = html.escape(page.camera_names[member.camera])
    alt = f"G{vehicle.global_id} in {name}"
    picture = f'<img src="{html.escape(url)}" alt="{alt}">' if url else '<div class="missing">no image</div>'
    return (
        f'<div class="crop">{picture}<span class="swatch" style="background:{colour(member.camera)}"></span>'
        f"{name} · track {member.track_id}<br>{clock(member.start_s)} to {clock(member.end_s)} · "
        f"{member.boxes} boxes</div>"
    )


def _vehicle(page: Page, vehicle: VehicleView) -> str:
    lines = [f"first seen {clock(vehicle.first_s)}, last seen {clock(vehicle.last_s)}"]
    lines.append(html.escape(attributes_text(vehicle.attributes)))
    if vehicle.similarity is not None:
        low = " warn" if vehicle.min_similarity is not None and vehicle.min_similarity < page.min_sim else ""
        lines.append(
            f'<span class="sim{low}">match similarity {vehicle.similarity:.2f} '
            f"(least similar pair {vehicle.min_similarity:.2f}; MTMC.MIN_SIM {page.min_sim:.2f})</span>"
        )
    if vehicle.overlap_s > 0:
        lines.append(f'<span class="warn">seen by two cameras at once for {vehicle.overlap_s:.1f} s</span>')
    crops = "".join(_crop(page, vehicle, m) for m in vehicle.members)
    cams = ", ".join(html.escape(page.camera_names[c]) for c in vehicle.cameras)
    return (
        f'<section class="vehicle" id="g{vehicle.global_id}"><h3>G{vehicle.global_id} · {cams}</h3>'
        f'<div class="meta">{" · ".join(lines)}</div><div class="crops">{crops}</div></section>'
    )


def _cameras(page: Page) -> str:
    figures = []
    for index, (name, count, url) in enumerate(page.cameras):
        picture = f'<img src="{html.escape(url)}" alt="camera {html.escape(name)}">' if url else ""
        figures.append(
            f'<figure>{picture}<figcaption><span class="swatch" style="background:{colour(index)}"></span>'
            f"<b>{html.escape(name)}</b>: {count} tracklets</figcaption></figure>"
        )
    return f'<div class="cams">{"".join(figures)}</div>'


def render(page: Page) -> str:
    """The whole page as one string."""
    total, multi_total = page.totals
    shown = len(page.multi) + len(page.single)
    cap = (
        f'<p class="warn">Showing {shown} of {total} vehicles (MTMC.REPORT_MAX_VEHICLES or '
        "mtmc-report --max-vehicles).</p>"
        if shown < total
        else ""
    )
    multi = "".join(_vehicle(page, v) for v in page.multi) or "<p>No vehicle was matched across cameras.</p>"
    single = "".join(_vehicle(page, v) for v in page.single)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="icon" href="data:,"><title>{html.escape(page.title)}</title>'
        f"<style>{STYLE}</style></head>"
        f'<body><h1>{html.escape(page.title)}</h1><p class="meta">{html.escape(page.meta)}</p>{cap}'
        f"<h2>Cameras</h2>{_cameras(page)}"
        f"<h2>Timeline</h2>{timeline_svg([*page.multi, *page.single], page.camera_names)}"
        f'<h2 id="multi">Vehicles seen by several cameras ({multi_total})</h2>{multi}'
        f"<details><summary>Vehicles seen by one camera ({total - multi_total})</summary>"
        f'<div class="grid">{single}</div></details>'
        "</body></html>\n"
    )
