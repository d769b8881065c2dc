"""Speed and memory of `pmc classify` and `pmc train`, on one core, in one run.

    python benchmarks/bench_classify.py [--n 100000] [--json out.json]

Builds a mixed zh/en corpus of unique paragraphs from the seeds (benchmarks/corpus.py), then
measures, pinned to one CPU core:

1. end-to-end classify throughput (JSONL in -> parse -> tokenise -> features -> scores ->
   JSONL out), paragraphs/s and MB/s, through the same library path as `pmc classify` (the batch
   path, `pipeline`; `bench_batch.py` measures it against the naive pipeline side by side);
2. the plain scikit-learn baseline pipeline (TfidfVectorizer(char_wb, 1-3) + LogisticRegression)
   on the same paragraphs;
3. jieba segmentation alone (jieba.lcut) on the Chinese paragraphs;
4. training time of the shipped model on 10,000 labelled paragraphs;
5. cold start: a fresh `pmc classify -` process on one paragraph (best of 5);
6. peak memory (max RSS) of `pmc classify` processes on N and N/10 paragraphs (flat = streaming).

Targets (issue #3): >= 10,000 paragraphs/s end to end per core; cold start <= 0.8 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))


def _pin_one_core() -> int:
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def _timed(function, *args):  # noqa: ANN001, ANN202
    start = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000, help="paragraphs in the corpus")
    parser.add_argument("--train-n", type=int, default=10_000, help="labelled paragraphs for the training figure")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    cpu = _pin_one_core()

    from corpus import labelled_sample, mixed_paragraphs, write_jsonl

    from classifier.classify import RecordWriter
    from classifier.model.evaluation import label_matrix
    from classifier.labels.gold import load_labelled
    from classifier.text.language import detect_language
    from classifier.scoring.registry import save_model
    from classifier.scoring.serving import ServingModel
    from classifier.labels.taxonomy import load_taxonomy
    from classifier.training import make_model

    figures: dict[str, object] = {"cpu": cpu, "n": args.n}
    work = Path(tempfile.mkdtemp(prefix="pmc-bench-"))
    corpus = work / "corpus.jsonl"
    write_jsonl(corpus, mixed_paragraphs(args.n, seed=7))
    texts = [json.loads(line)["text"] for line in corpus.open(encoding="utf-8")]
    size_mb = corpus.stat().st_size / 1e6
    zh = [t for t in texts if detect_language(t) != "en"]
    figures["corpus"] = {"paragraphs": len(texts), "mb": round(size_mb, 1), "zh_share": round(len(zh) / len(texts), 3),
                         "mean_chars": round(sum(map(len, texts)) / len(texts), 1)}
    print(f"corpus: {len(texts):,} unique paragraphs, {size_mb:.1f} MB, {len(zh) / len(texts):.0%} Chinese, "
          f"mean {figures['corpus']['mean_chars']} chars; pinned to CPU {cpu}")

    taxonomy = load_taxonomy()
    rows = load_labelled()
    model = make_model(taxonomy).fit([r.text for r in rows], label_matrix(rows, taxonomy.label_ids),
                                     groups=[r.split_group for r in rows])
    labels = taxonomy.label_ids
    serving = ServingModel.from_classifier(model)  # what `pmc classify` scores with
    serving.predict_proba(texts[:50])  # warm caches (segmenter, automaton)

    from classifier.pipeline import Classifier, iter_chunks, run_chunks

    batch_path = Classifier(serving, labels)  # what `pmc classify` runs (pipeline.classify_chunk)

    def end_to_end() -> int:
        with open(os.devnull, "w", encoding="utf-8") as sink:
            writer = RecordWriter(sink, "jsonl", labels)
            for rendered in run_chunks(iter_chunks([str(corpus)]), batch_path):
                writer.write_rendered(rendered.data, rendered.count)
        return writer.count

    seconds, count = _timed(end_to_end)
    figures["classify"] = {"paragraphs_per_s": round(count / seconds), "mb_per_s": round(size_mb / seconds, 2),
                           "seconds": round(seconds, 2)}
    print(f"classify end to end:      {count / seconds:10,.0f} paragraphs/s  {size_mb / seconds:6.2f} MB/s  ({seconds:.1f} s)")

    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline

    Y = label_matrix(rows, labels)
    baseline = make_pipeline(TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3)),
                             OneVsRestClassifier(LogisticRegression(max_iter=1000)))
    baseline.fit([r.text for r in rows], Y)
    subset = texts[: max(1, len(texts) // 5)]
    seconds, _ = _timed(baseline.predict_proba, subset)
    figures["sklearn_char_wb_baseline_per_s"] = round(len(subset) / seconds)
    print(f"sklearn char_wb baseline: {len(subset) / seconds:10,.0f} paragraphs/s  (on {len(subset):,})")

    import jieba

    jieba.setLogLevel(60)
    jieba.initialize()
    zh_subset = zh[: max(1, len(zh) // 5)]
    seconds, _ = _timed(lambda: [jieba.lcut(t) for t in zh_subset])
    figures["jieba_lcut_zh_per_s"] = round(len(zh_subset) / seconds)
    print(f"jieba.lcut alone (zh):    {len(zh_subset) / seconds:10,.0f} paragraphs/s  (on {len(zh_subset):,})")

    train_texts, train_labels, train_groups = labelled_sample(args.train_n, seed=3)
    import numpy as np

    train_y = np.array([[int(label in chosen) for label in labels] for chosen in train_labels])
    seconds, _ = _timed(lambda: make_model(taxonomy).fit(train_texts, train_y, groups=train_groups))
    figures["train_seconds"] = {"n": args.train_n, "seconds": round(seconds, 1)}
    print(f"train on {args.train_n:,} labelled:    {seconds:10.1f} s (features, 5-fold inner CV, calibration, thresholds)")

    registry = work / "models"
    save_model(model, {"labels": list(labels), "taxonomy_hash": taxonomy.hash}, registry=registry)
    env = {**os.environ, "PMC_MODELS_DIR": str(registry)}
    one = json.dumps({"text": "边检站加强口岸查缉，严防偷渡人员闯关出境。"}, ensure_ascii=False).encode()
    starts = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run(["taskset", "-c", str(cpu), sys.executable, "-m", "classifier.cli", "classify", "-"],
                       input=one + b"\n", env=env, check=True, capture_output=True, cwd=ROOT)
        starts.append(time.perf_counter() - start)
    figures["cold_start_s"] = {"best": round(min(starts), 3), "median": round(sorted(starts)[2], 3)}
    print(f"cold start (1 paragraph):  best {min(starts):.3f} s, median {sorted(starts)[2]:.3f} s")

    peaks = {}
    small = work / "small.jsonl"
    small.write_text("".join(corpus.open(encoding="utf-8").readlines()[: max(1, args.n // 10)]), encoding="utf-8")
    for name, path in (("n/10", small), ("n", corpus)):
        # VmHWM (peak resident set) of the probe's own address space; ru_maxrss would also count the
        # benchmark process it was forked from, which Linux carries across exec.
        probe = ("import sys;sys.argv=['pmc','classify',sys.argv[1],'-o','/dev/null'];"
                 "from classifier.cli import main\ntry: main()\nexcept SystemExit: pass\n"
                 "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0])")
        out = subprocess.run(["taskset", "-c", str(cpu), sys.executable, "-c", probe, str(path)], env=env,
                             check=True, capture_output=True, cwd=ROOT)
        peaks[name] = round(int(out.stdout.decode().split()[-1]) / 1024, 1)
    figures["peak_rss_mb"] = peaks
    print(f"peak memory of pmc classify: {peaks['n/10']} MB on {args.n // 10:,} paragraphs, "
          f"{peaks['n']} MB on {args.n:,} (flat = streaming)")

    targets = {"classify >= 10,000 paragraphs/s": figures["classify"]["paragraphs_per_s"] >= 10_000,
               "cold start <= 0.8 s": figures["cold_start_s"]["best"] <= 0.8}
    figures["targets"] = targets
    for target, met in targets.items():
        print(f"target {target}: {'met' if met else 'MISSED'}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
