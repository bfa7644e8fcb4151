"""Generate the simulator's test-pattern rendition (run once; the output is committed).

Colour bars with a moving white box and a 1 kHz tone, LOOP_SECONDS long, in every quality the
play answer advertises, packaged twice from one encode per quality:

- ``hls/<quality>/seg-N.ts``: MPEG-TS, video and audio muxed (each HLS variant plays alone);
- ``dash/<quality>/init.mp4`` + ``seg-N.m4s``: fragmented MP4, video only, and ``dash/audio/``:
  the tone; ``media.json`` records codecs, bandwidths, timescales and segment timelines, from
  which the simulator writes each episode's MPD.

Needs Debian's ffmpeg (``apt-get install -y ffmpeg``). Deterministic enough for review (same
ffmpeg, same bytes); the simulator never runs it.

    .venv/bin/python tools/build_sim_media.py [--out kensho/upstream/simulator/media]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "kensho" / "upstream" / "simulator" / "media"
LOOP_SECONDS = 4
SEGMENT_SECONDS = 2
FPS = 24
#: name -> (width, height, x264 crf); the pattern is simple, so high crf still looks clean
QUALITIES = {
    "1080p": (1920, 1080, 32),
    "720p": (1280, 720, 31),
    "480p": (854, 480, 30),
    "360p": (640, 360, 30),
}
_NS = {"mpd": "urn:mpeg:dash:schema:mpd:2011"}


def _ffmpeg(*args: str) -> None:
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args]
    subprocess.run(cmd, check=True)


def _sources(width: int, height: int) -> list[str]:
    return [
        "-f", "lavfi", "-i",
        f"smptehdbars=size={width}x{height}:rate={FPS}:duration={LOOP_SECONDS}",
        "-f", "lavfi", "-i",
        f"sine=frequency=1000:sample_rate=48000:duration={LOOP_SECONDS}",
    ]  # fmt: skip


def _video_args(height: int, crf: int) -> list[str]:
    box = f"drawbox=x='mod(t*{height // 2},iw-ih/6)':y=ih*0.72:w=ih/6:h=ih/10:color=white:t=fill"
    gop = str(FPS * SEGMENT_SECONDS)
    return [
        "-vf", box, "-c:v", "libx264", "-profile:v", "main", "-preset", "veryslow",
        "-crf", str(crf), "-g", gop, "-keyint_min", gop, "-sc_threshold", "0",
        "-pix_fmt", "yuv420p", "-threads", "1", "-bitexact",
    ]  # fmt: skip


_AUDIO = ["-c:a", "aac", "-b:a", "48k", "-ac", "1", "-bitexact"]


def _hls(name: str, width: int, height: int, crf: int, out: Path) -> list[float]:
    target = out / "hls" / name
    target.mkdir(parents=True)
    _ffmpeg(
        *_sources(width, height), *_video_args(height, crf), *_AUDIO,
        "-f", "hls", "-hls_time", str(SEGMENT_SECONDS), "-hls_playlist_type", "vod",
        "-hls_segment_filename", str(target / "seg-%d.ts"), str(target / "index.m3u8"),
    )  # fmt: skip
    playlist = (target / "index.m3u8").read_text()
    (target / "index.m3u8").unlink()
    lines = playlist.splitlines()
    return [float(line[8:].rstrip(",")) for line in lines if line.startswith("#EXTINF:")]


def _timeline(rep: ET.Element) -> dict[str, object]:
    template = rep.find("mpd:SegmentTemplate", _NS)
    assert template is not None
    segments = [
        [int(s.get("t", "-1")), int(s.get("d", "0")), int(s.get("r", "0"))]
        for s in template.iterfind("mpd:SegmentTimeline/mpd:S", _NS)
    ]
    return {"timescale": int(template.get("timescale", "1")), "timeline": segments}


def _dash(name: str, size: tuple[int, int], crf: int, out: Path, tmp: Path) -> dict[str, object]:
    width, height = size
    work = tmp / name
    work.mkdir()
    _ffmpeg(
        *_sources(width, height), "-map", "0:v", "-map", "1:a",
        *_video_args(height, crf), *_AUDIO,
        "-f", "dash", "-seg_duration", str(SEGMENT_SECONDS), "-use_template", "1",
        "-use_timeline", "1", "-init_seg_name", "init-$RepresentationID$.mp4",
        "-media_seg_name", "seg-$RepresentationID$-$Number$.m4s",
        "-adaptation_sets", "id=0,streams=v id=1,streams=a", str(work / "out.mpd"),
    )  # fmt: skip
    mpd = ET.parse(work / "out.mpd").getroot()
    reps = {r.get("id"): r for r in mpd.iterfind(".//mpd:Representation", _NS)}
    found: dict[str, object] = {}
    for rep_id, folder in (("0", name), ("1", "audio")):
        rep = reps[rep_id]
        target = out / "dash" / folder
        if target.exists():  # the tone is the same in every encode: keep the first
            continue
        target.mkdir(parents=True)
        shutil.copy(work / f"init-{rep_id}.mp4", target / "init.mp4")
        for seg in sorted(work.glob(f"seg-{rep_id}-*.m4s")):
            shutil.copy(seg, target / f"seg-{seg.stem.rsplit('-', 1)[1]}.m4s")
        size = sum(p.stat().st_size for p in target.iterdir())
        found[folder] = {
            "codecs": rep.get("codecs"),
            "bandwidth": size * 8 // LOOP_SECONDS,
            **_timeline(rep),
            **({"width": width, "height": height, "frame_rate": str(FPS)} if rep_id == "0" else
               {"sampling_rate": int(rep.get("audioSamplingRate", "48000"))}),
        }  # fmt: skip
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if shutil.which("ffmpeg") is None:
        print("ffmpeg is missing: apt-get install -y ffmpeg", file=sys.stderr)
        return 2
    out: Path = args.out
    for sub in ("hls", "dash"):
        shutil.rmtree(out / sub, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    meta: dict[str, object] = {
        "loop_seconds": LOOP_SECONDS,
        "segment_seconds": SEGMENT_SECONDS,
        "hls": {},
        "dash": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, (width, height, crf) in QUALITIES.items():
            durations = _hls(name, width, height, crf, out)
            size = sum(p.stat().st_size for p in (out / "hls" / name).iterdir())
            meta["hls"][name] = {  # type: ignore[index]
                "width": width,
                "height": height,
                "bandwidth": size * 8 // LOOP_SECONDS,
                "durations": durations,
            }
            meta["dash"].update(_dash(name, (width, height), crf, out, Path(tmp)))  # type: ignore[attr-defined]
    (out / "media.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"wrote {out} ({total // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
