"""Build `kensho/search/data/hanzi_fold.txt`: traditional -> simplified Chinese, per character.

Search folds both sides (titles and queries) with this table, so "進擊的巨人" and "进击的巨人"
meet. Character by character, so a query converts exactly as the same characters inside a
title do. The pairs come from OpenCC's `t2s` dictionaries (Apache License 2.0, see NOTICE);
OpenCC is needed only to rebuild the file: `pip install opencc` then
``python tools/build_hanzi_fold.py``. The output is deterministic.
"""

from __future__ import annotations

from pathlib import Path

import opencc

OUT = Path(__file__).resolve().parents[1] / "kensho" / "search" / "data" / "hanzi_fold.txt"
RANGES = ((0x3400, 0x4DC0), (0x4E00, 0xA000), (0xF900, 0xFB00))


def main() -> None:

    t2s = opencc.OpenCC("t2s")
    pairs = []
    for lo, hi in RANGES:
        for o in range(lo, hi):
            ch = chr(o)
            simple = t2s.convert(ch)
            if simple != ch and len(simple) == 1:
                pairs.append(ch + simple)
    header = "# traditional->simplified Chinese by character; from OpenCC t2s (Apache-2.0)\n"
    OUT.write_text(header + "\n".join(pairs) + "\n", encoding="utf-8")
    print(f"{OUT}: {len(pairs)} pairs")


if __name__ == "__main__":
    main()
