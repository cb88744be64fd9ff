"""Write the demo's local feeds: each seed article as the one item of its outlet's RSS feed.

``make run`` calls it before starting the daemon on ``examples/summit-watch.yaml``, whose
``local-*`` feeds read these files, so the demo alerts on a machine without internet access.
The seed articles stay in ../shared/seeds (they are not copied into the repository).

    python scripts/sample_feeds.py SEEDS_DIR OUT_DIR
"""

import re
import sys
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

# The two seeds are the same story from two outlets (see ../shared/seeds/README.md).
OUTLETS = (
    ("sample-the-hindu.xml", "The Hindu (sample)"),
    ("sample-hindustan-times.xml", "Hindustan Times (sample)"),
)
PUBLISHED = datetime(2025, 10, 7, 12, 0, tzinfo=UTC)


def article_item(path: Path) -> str:
    """An RSS item: the first sentence as the title, the article as the description."""
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if lines:  # 001 starts with a "date YYYY-MM-DD" header on its first paragraph's line
        lines[0] = re.sub(r"^date \d{4}-\d{2}-\d{2}\s*", "", lines[0])
    text = "\n\n".join(lines)
    title = text.split(". ")[0]
    if len(title) > 120:  # cut between words
        title = title[:120].rsplit(" ", 1)[0] + "…"
    return (
        f"<item><guid isPermaLink='false'>seed-{path.stem}</guid><title>{escape(title)}</title>"
        f"<link>https://example.org/sample/{path.stem}</link>"
        f"<pubDate>{format_datetime(PUBLISHED)}</pubDate>"
        f"<description>{escape(text)}</description></item>"
    )


def main(seeds: Path, out: Path) -> int:
    articles = sorted(seeds.glob("*.txt"))
    if len(articles) != len(OUTLETS):
        print(
            f"sample_feeds: expected {len(OUTLETS)} seed articles in {seeds}, found {len(articles)}",
            file=sys.stderr,
        )
        return 2
    out.mkdir(parents=True, exist_ok=True)
    for article, (name, outlet) in zip(articles, OUTLETS, strict=True):
        channel = f"<channel><title>{escape(outlet)}</title><link>https://example.org/</link>{article_item(article)}</channel>"
        (out / name).write_text(
            f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0">{channel}</rss>\n', encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        raise SystemExit(2)
    raise SystemExit(main(Path(sys.argv[1]), Path(sys.argv[2])))
