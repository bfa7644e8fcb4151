"""Subset DejaVu Sans Bold to Latin for the simulator's generated images (run once, committed).

Source: Debian's ``fonts-dejavu-core`` (``apt-get install -y fonts-dejavu-core``); licence: the
Bitstream Vera Fonts licence with DejaVu's public-domain changes (``fonts/LICENSE``, ``NOTICE``).
Titles outside Latin are transliterated before drawing (``kensho.upstream.simulator.images``),
so Latin, Latin-1, Latin Extended A/B and general punctuation suffice: ~60 KiB instead of 700.
Needs ``fonttools`` (``pip install fonttools``), which Kenshō itself does not.

    .venv/bin/python tools/build_sim_font.py
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from fontTools import subset

ROOT = Path(__file__).resolve().parents[1]
SOURCE = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
LICENSE = Path("/usr/share/doc/fonts-dejavu-core/copyright")
OUT = ROOT / "kensho" / "upstream" / "simulator" / "fonts"
UNICODES = "U+0020-007E,U+00A0-024F,U+2010-2027,U+2030-205E,U+20AC,U+2122"


def main() -> int:
    if not SOURCE.exists():
        print(f"{SOURCE} is missing: apt-get install -y fonts-dejavu-core", file=sys.stderr)
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    target = OUT / "DejaVuSans-Bold-Latin.ttf"
    subset.main(
        [
            str(SOURCE),
            f"--unicodes={UNICODES}",
            f"--output-file={target}",
            "--layout-features=kern,liga",
            "--no-hinting",
            "--desubroutinize",
        ]
    )
    shutil.copy(LICENSE, OUT / "LICENSE")
    print(f"wrote {target} ({target.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
