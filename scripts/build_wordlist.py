"""Rebuild watcher/data/english-words.txt from SCOWL word lists (Debian's wamerican and wbritish).

Proper nouns are kept (folded to lower case): "Indiana", "Prussia" and "Delphi" are real names, not
typos of "Indian", "Russia" and "Delhi". Entries with apostrophes are dropped (possessives).

    apt-get download wamerican wbritish && for f in w*.deb; do dpkg-deb -x "$f" x; done
    python scripts/build_wordlist.py x/usr/share/dict/american-english x/usr/share/dict/british-english
"""

import sys
from pathlib import Path

from watcher.text import fold


def main(paths: list[str]) -> None:
    words: set[str] = set()
    for path in paths:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if "'" not in line:
                words.add(fold(line))
    target = Path(__file__).resolve().parent.parent / "watcher" / "data" / "english-words.txt"
    target.write_text("".join(f"{w}\n" for w in sorted(words) if w.isalpha()), encoding="utf-8")
    print(f"{len(words)} words -> {target}")


if __name__ == "__main__":
    main(sys.argv[1:])
