"""Stream quality: parse the HLS master playlist and pick the variant to hand out.

The requested quality if the episode offers it; else (`auto` or unavailable) the best whose
bandwidth fits the player's reported bandwidth; else the lowest when none fits; with no
bandwidth report, 720p when offered (a sensible default on unknown networks), else the best.
"""

from __future__ import annotations

import re

from yarl import URL

__all__ = ["DEFAULT_QUALITY", "QUALITY_ORDER", "Variant", "parse_master", "select_quality"]

QUALITY_ORDER = ("1080p", "720p", "480p", "360p")
DEFAULT_QUALITY = "720p"
_MAX_PLAYLIST = 256 * 1024
_MAX_VARIANTS = 32
_ATTR = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')

Variant = tuple[str, str, int]  # (quality, absolute URL, bandwidth bits/s)


def _quality_of(attrs: dict[str, str]) -> str | None:
    name = attrs.get("NAME", "").strip('"')
    if name in QUALITY_ORDER:
        return name
    height = attrs.get("RESOLUTION", "").partition("x")[2]
    candidate = f"{height}p"
    return candidate if candidate in QUALITY_ORDER else None


def parse_master(text: str, master_url: str) -> list[Variant]:
    """The known-quality variants of a master playlist, best first (unknown ones skipped)."""
    if len(text) > _MAX_PLAYLIST or not text.startswith("#EXTM3U"):
        return []
    base = URL(master_url)
    found: dict[str, Variant] = {}
    pending: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#EXT-X-STREAM-INF:"):
            pending = {k: v for k, v in _ATTR.findall(line.partition(":")[2])}
        elif line and not line.startswith("#") and pending is not None:
            quality = _quality_of(pending)
            bandwidth = pending.get("BANDWIDTH", "")
            if quality and bandwidth.isdigit() and quality not in found:
                url = base.join(URL(line))
                if url.scheme in ("http", "https"):
                    found[quality] = (quality, str(url), int(bandwidth))
            pending = None
            if len(found) >= _MAX_VARIANTS:
                break
    return sorted(found.values(), key=lambda v: QUALITY_ORDER.index(v[0]))


def select_quality(
    available: dict[str, int], requested: str, bandwidth_kbps: int | None
) -> str | None:
    """Pick from `available` (quality -> bits/s); None only when nothing is available."""
    if not available:
        return None
    if requested in available:
        return requested
    ordered = [q for q in QUALITY_ORDER if q in available]
    if bandwidth_kbps is not None:
        budget = bandwidth_kbps * 1000
        fitting = [q for q in ordered if available[q] <= budget]
        return fitting[0] if fitting else ordered[-1]
    return DEFAULT_QUALITY if DEFAULT_QUALITY in available else ordered[0]
