"""The re-layout's two promises, measured against the tree before it, side by side in one run.

    python benchmarks/bench_layout.py --peer /path/to/checkout-before [--n 20000] [--json out.json]

`--peer` is a checkout of the commit before the re-layout (e.g. `git worktree add /tmp/peer 95971f4`).
Both trees train the same model on the same gold (no CV), then, alternating tree by tree:

1. **normalise once** — OpenCC conversions per Chinese paragraph on the classify path
   (counted, so machine load does not matter) and µs per paragraph of classification (a JSONL
   batch through each tree's own `iter_paragraphs` + `classify_stream`, best of 3);
2. **next item computed once** — OpenCC conversions and ms per "next paragraph" on the Label
   page's path (`next_item` with the suggestion and evidence), median of 40.

Each measurement runs in a fresh subprocess whose `sys.path` starts with that tree.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

PROBE = textwrap.dedent('''
    import json, os, statistics, sys, time
    tree, mode, work = sys.argv[1], sys.argv[2], sys.argv[3]
    sys.path.insert(0, tree)
    os.environ["PMC_DATA_DIR"] = work
    os.environ["PMC_MODELS_DIR"] = os.path.join(work, "models")
    import opencc
    calls = [0]
    original = opencc.OpenCC.convert
    def counting(self, text):
        calls[0] += 1
        return original(self, text)
    opencc.OpenCC.convert = counting
    new = os.path.isdir(os.path.join(tree, "classifier", "text"))
    if new:
        from classifier.labels.gold import load_labelled
        from classifier.training import train
        from classifier.scoring.registry import load_serving
        from classifier.classify import classify_stream, iter_paragraphs
    else:
        from classifier.labelled_data import load_labelled
        from classifier.training import train
        from classifier.registry import load_serving
        from classifier.classify import classify_stream, iter_paragraphs
    registry = os.path.join(work, "models")
    if not os.path.exists(os.path.join(registry, "ACTIVE")):
        train(load_labelled(os.path.join(tree, "labels", "gold.jsonl")), cv_repeats=0,
              registry=__import__("pathlib").Path(registry))
    if mode == "classify":
        saved = load_serving()
        labels = tuple(saved.card["labels"])
        path = sys.argv[4]
        n = sum(1 for _ in open(path, encoding="utf-8"))
        best = None
        for _ in range(3):
            calls[0] = 0
            start = time.perf_counter()
            done = 0
            for batch in classify_stream(iter_paragraphs([path], on_error=print), model=saved.model, labels=labels):
                done += len(batch)
            elapsed = time.perf_counter() - start
            best = elapsed if best is None else min(best, elapsed)
        print(json.dumps({"n": done, "us_per_paragraph": best / done * 1e6, "opencc_per_paragraph": calls[0] / done}))
    else:
        if new:
            from classifier.bootstrap import bootstrap
            from classifier.annotate import session
            from classifier.workspace import Workspace
        else:
            from classifier import workspace as ws
        db = os.path.join(work, "pmc.sqlite")
        if new:
            bootstrap(db, registry=registry, cv_repeats=0)
            w = Workspace.open(db, registry=registry)
            nxt = lambda i: session.next_item(w, "bench", strategy="document", include_gold=True, seed=i)
            save = lambda item: session.save_answer(w, item, annotator="bench", answer="skip")
        else:
            ws.bootstrap(db, registry=registry, cv_repeats=0)
            store = ws.open_store(db)
            model = ws.active_model(registry=registry)
            nxt = lambda i: ws.next_item(store, "bench", strategy="document", include_gold=True, model=model, seed=i)
            save = lambda item: ws.save_answer(store, item, annotator="bench", answer="skip")
        item = nxt(0)
        save(item)
        times, conversions, zh = [], [], 0
        for i in range(1, 41):
            calls[0] = 0
            start = time.perf_counter()
            item = nxt(i)
            times.append(time.perf_counter() - start)
            if item.lang in ("zh", "zh-Hant"):
                conversions.append(calls[0])
            save(item)
        print(json.dumps({"ms_next_item": statistics.median(times) * 1e3,
                          "opencc_per_zh_next_item": statistics.mean(conversions) if conversions else None,
                          "zh_items": len(conversions)}))
''')


def _run(tree: Path, mode: str, work: Path, *extra: str) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE, str(tree), mode, str(work), *extra],
                         capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peer", type=Path, required=True, help="checkout of the tree before the re-layout")
    parser.add_argument("--n", type=int, default=20_000, help="paragraphs to classify")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    from corpus import mixed_paragraphs

    trees = {"before": args.peer.resolve(), "after": ROOT}
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        data = tmp_path / "paragraphs.jsonl"
        with data.open("w", encoding="utf-8") as out:
            for text in mixed_paragraphs(args.n, seed=11):
                out.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
        zh_only = tmp_path / "zh.jsonl"
        with zh_only.open("w", encoding="utf-8") as out:
            for text in mixed_paragraphs(2_000, seed=12, zh_share=1.0):
                out.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
        results: dict[str, dict] = {name: {} for name in trees}
        for round_ in range(2):  # alternate the trees so load hits both alike
            for name, tree in trees.items():
                work = tmp_path / name
                work.mkdir(exist_ok=True)
                mixed = _run(tree, "classify", work, str(data))
                zh = _run(tree, "classify", work, str(zh_only))
                store_dir = work / f"store{round_}"
                store_dir.mkdir(exist_ok=True)
                item = _run(tree, "next", store_dir)
                entry = results[name]
                entry["us_per_paragraph"] = min(entry.get("us_per_paragraph", 1e9), mixed["us_per_paragraph"])
                entry["opencc_per_zh_paragraph_classify"] = zh["opencc_per_paragraph"]
                entry["ms_next_item"] = min(entry.get("ms_next_item", 1e9), item["ms_next_item"])
                entry["opencc_per_zh_next_item"] = item["opencc_per_zh_next_item"]
    before, after = results["before"], results["after"]
    print(f"{'':44}{'before':>12}{'after':>12}")
    for key, label in (("opencc_per_zh_paragraph_classify", "OpenCC calls per Chinese paragraph, classify"),
                       ("us_per_paragraph", f"classify, µs per paragraph ({args.n:,} mixed)"),
                       ("opencc_per_zh_next_item", "OpenCC calls per Chinese next item"),
                       ("ms_next_item", "next item with suggestion, ms (median)")):
        print(f"{label:44}{before[key]:>12.2f}{after[key]:>12.2f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
