"""Build `data/background_en.tsv`, the background word-frequency table, from `wordfreq`.

Run once at build time (`python -m bot.dedup.build_background`); the bot itself never
imports `wordfreq`. Each output line is `word<TAB>zipf`, zipf being log10 of the word's
frequency per billion words in wordfreq's blend of general English (Wikipedia, subtitles,
news, books, web, Twitter). Nothing here is derived from the labelled dev set.
"""

from __future__ import annotations

import argparse
import importlib
import re
from pathlib import Path

DEFAULT_OUT = Path(__file__).with_name("data") / "background_en.tsv"
_WORD_RE = re.compile(r"^[a-z0-9]+$")


def build(out: Path, size: int, min_zipf: float) -> int:
    """Write the table and return how many words it holds."""
    wordfreq = importlib.import_module("wordfreq")  # build-time only dependency
    rows: list[str] = []
    for word in wordfreq.top_n_list("en", size):
        if not _WORD_RE.match(word):
            continue
        zipf = float(wordfreq.zipf_frequency(word, "en"))
        if zipf < min_zipf:
            break
        rows.append(f"{word}\t{zipf:.2f}")
    header = "# from wordfreq 3.x (Apache-2.0 code; data CC BY-SA 4.0); see data/NOTICE.md\n"
    out.write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--size", type=int, default=60_000)
    parser.add_argument("--min-zipf", type=float, default=1.5)
    args = parser.parse_args()
    count = build(args.out, args.size, args.min_zipf)
    print(f"wrote {count} words to {args.out}")


if __name__ == "__main__":
    main()
