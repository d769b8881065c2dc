"""Segmenting stays linear on hostile text: time per MB at 1, 4 and 20 MB, side by side with the
tree before the fix when `--peer` is given (which is stopped after `--peer-timeout` seconds).

    python benchmarks/bench_segment.py [--peer /path/to/old/checkout] [--json out.json]

Inputs (each built to the size, from the hostile-input report): one line of letters with no
space or punctuation and one of words (the hard-wrap path), lines of 30 KB of dots and a letter
(sentence ends), lines of 34 digits and a letter and lines of three phone numbers and a word
(the pagination pattern), and Chinese text without punctuation. The figure that matters is seconds per MB staying flat.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, sys.argv[1])
    kind, mb = sys.argv[2], float(sys.argv[3])
    size = int(mb * 1_000_000)
    unit = {"letters": "x", "words": "word ", "dots": "." * 30_000 + "x\\n", "digits": "1" * 34 + "a\\n",
            "phones": "138 0013 8000 139 0013 8000 137 0013 8000 x\\n", "han": "边境管理"}[kind]
    text = unit * (size // len(unit.encode("utf-8")) + 1)
    import os
    if os.path.isdir(os.path.join(sys.argv[1], "classifier", "text")):  # decide by the tree's layout, not by
        from classifier.text.reader import Document                     # what imports (an editable install
        from classifier.text.segmenter import segment                   # maps new subpackages anywhere)
    else:
        from classifier.reader import Document
        from classifier.segmenter import segment
    start = time.process_time()
    n = len(segment(Document("d", text)))
    print(time.process_time() - start, n)
""")


def run(tree: Path, kind: str, mb: float, timeout: float) -> float | None:
    try:
        out = subprocess.run([sys.executable, "-c", PROBE, str(tree), kind, str(mb)], capture_output=True,
                             text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return None
    return float(out.stdout.split()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peer", type=Path, default=None)
    parser.add_argument("--peer-timeout", type=float, default=60.0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    results: dict[str, dict[str, float | None]] = {}
    print(f"{'input':10}{'MB':>6}{'s (this tree)':>16}{'s/MB':>8}" + (f"{'s (peer)':>14}" if args.peer else ""))
    for kind in ("letters", "words", "dots", "digits", "phones", "han"):
        for mb in (1, 4, 20):
            ours = run(ROOT, kind, mb, timeout=600)
            peer = run(args.peer, kind, mb, timeout=args.peer_timeout) if args.peer else None
            results[f"{kind}-{mb}MB"] = {"seconds": ours, "peer_seconds": peer}
            peer_cell = (f"{peer:>14.2f}" if peer is not None else f"{'> ' + str(int(args.peer_timeout)):>14}") if args.peer else ""
            print(f"{kind:10}{mb:>6}{ours:>16.2f}{ours / mb:>8.2f}{peer_cell}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
