"""Build `kensho/search/data/kana_readings.tsv`: katakana readings of Latin words.

Search indexes each Japanese title written in Latin letters ("CLAYMORE") also as its katakana
reading ("クレイモア"), so a katakana query finds it (`kensho/search/readings.py`). The readings
come from e2k (https://pypi.org/project/e2k/, released into the public domain; an
English-to-katakana GRU trained on Wiktionary and JMdict), greedy decoding, for every Latin word
of the bundled catalog's Japanese titles. e2k is needed only to rebuild the file:
``pip install e2k`` then ``python tools/build_kana_readings.py``. Words already in the table keep
their reading (a rebuild after a catalog change only reads the new words; ``--all`` redoes
every word); words no title uses any more are dropped. The output is sorted, so deterministic.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kensho.catalog import load_catalog  # noqa: E402
from kensho.search.readings import latin_words  # noqa: E402

OUT = ROOT / "kensho" / "search" / "data" / "kana_readings.tsv"
HEADER = (
    "# Latin word -> katakana reading, for Japanese titles written in Latin letters.\n"
    "# Made by tools/build_kana_readings.py with e2k (C2K, greedy; public domain).\n"
)


def needed_words() -> set[str]:
    """Every Latin word of a Japanese title in the bundled catalog."""
    return {
        word
        for entry in load_catalog().entries
        for title in entry.titles
        if title.lang == "ja"
        for word in latin_words(title.text)
    }


def read_table(path: Path) -> dict[str, str]:
    table: dict[str, str] = {}
    if path.exists():
        for line in path.read_text("utf-8").splitlines():
            if line and not line.startswith("#"):
                word, _, kana = line.partition("\t")
                table[word] = kana
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--all", action="store_true", help="read every word again")
    args = parser.parse_args(argv)
    from e2k import C2K  # noqa: PLC0415 - heavy (a model), optional: only to rebuild the table

    words = needed_words()
    old = {} if args.all else read_table(args.out)
    table = {w: k for w, k in old.items() if w in words}
    todo = sorted(words - table.keys())
    c2k = C2K(max_len=32)
    started = time.perf_counter()
    for n, word in enumerate(todo, start=1):
        kana = c2k(word)
        if kana:
            table[word] = kana
        if n % 100 == 0:
            print(f"{n}/{len(todo)} words, {time.perf_counter() - started:.0f} s", flush=True)
    body = "".join(f"{w}\t{table[w]}\n" for w in sorted(table))
    args.out.write_text(HEADER + body, encoding="utf-8")
    print(f"{args.out}: {len(table)} readings ({len(todo)} new)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
