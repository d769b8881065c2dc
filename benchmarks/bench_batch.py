"""Batch classification speed (issue 12): pmc against the naive pipeline, side by side, one core.

    python benchmarks/bench_batch.py [--sizes 20000 100000] [--rounds 2] [--rss 10000 100000 1000000]
                                     [--peer PATH] [--json docs/benchmark-classify.json]

Builds corpora of unique mixed zh/en paragraphs from the seeds (benchmarks/corpus.py), trains
nothing (the shipped model, `models/shipped`, installed in a temporary registry) and measures,
each method in a fresh process pinned to one CPU core, the rounds interleaved so that a noisy
machine slows every method alike (the best round of each is kept):

1. end to end JSONL → JSONL (read, parse, fold, tokenise, features, scores, write), model loaded
   and warmed first: `pmc` through the same functions as `pmc classify` (`pipeline.iter_chunks` →
   `run_chunks` → `RecordWriter`), with the compiled inner loops (`classifier.text._scan`) and
   without them (`PMC_PURE_PYTHON=1`, what an install without a compiler runs); the per-paragraph path it replaced (`classify.classify_stream`,
   `--peer` checkout, default the commit before issue 12); the naive pipeline (json in,
   scikit-learn `TfidfVectorizer(char_wb, 1-3)` + one-vs-rest `LogisticRegression`, json out,
   fitted on the gold labels); the segmentation-only limit (orjson in, jieba-rs `cut` of every
   paragraph with the model's domain terms, nothing out);
2. `pmc classify --jobs 1` vs `--jobs 2` (whole CLI runs, not pinned) on the largest size, and
   `--engine dask` on a 2-worker LocalCluster vs `--jobs 2`; the same two on a folder of
   `--documents` text files made from the seeds (read, segmented, classified);
3. peak RSS (VmHWM) of `pmc classify` on 10k … 1M paragraphs (the largest sizes repeat the
   100k corpus with new ids: memory, not speed);
4. cold start: a fresh `pmc classify -` on one paragraph, best and median of 7, with and without
   the C extension, beside the peer's and beside `python -c pass` (the interpreter and this
   machine's site hooks alone).

Ratios carry across machines; absolute figures depend on the load (reported with them).
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

# -- the timed methods, each run in its own process: `python bench_batch.py --run METHOD CORPUS` --


def _pmc(corpus: str) -> tuple[float, int]:
    from classifier.classify import RecordWriter
    from classifier.pipeline import Classifier, iter_chunks, run_chunks

    classifier = Classifier.load(None)
    warm = Path(corpus).read_bytes().splitlines(keepends=True)[:50]
    from classifier.pipeline import Chunk, classify_chunk

    classify_chunk(Chunk(source="w", record_source="w", lines=tuple(warm)), classifier)
    start = time.perf_counter()
    with open(os.devnull, "w", encoding="utf-8") as sink:
        writer = RecordWriter(sink, "jsonl", classifier.labels)
        for rendered in run_chunks(iter_chunks([corpus]), classifier):
            writer.write_rendered(rendered.data, rendered.count)
    return time.perf_counter() - start, writer.count


def _per_paragraph(corpus: str) -> tuple[float, int]:
    """The path before issue 12 (run with the peer checkout first on sys.path)."""
    from classifier.classify import RecordWriter, classify_stream, iter_paragraphs
    from classifier.scoring.registry import load_serving

    saved = load_serving(None)
    labels = tuple(saved.card["labels"])
    texts = [json.loads(line)["text"] for line in Path(corpus).read_text(encoding="utf-8").splitlines()[:50]]
    saved.model.predict_proba(texts)
    start = time.perf_counter()
    with open(os.devnull, "w", encoding="utf-8") as sink:
        writer = RecordWriter(sink, "jsonl", labels)
        for batch in classify_stream(iter_paragraphs([corpus], on_error=print), model=saved.model, labels=labels):
            writer.write_batch(batch)
    return time.perf_counter() - start, writer.count


def _naive(corpus: str) -> tuple[float, int]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline

    from classifier.labels.gold import load_labelled
    from classifier.labels.taxonomy import load_taxonomy
    from classifier.model.evaluation import label_matrix

    rows, labels = load_labelled(), load_taxonomy().label_ids
    model = make_pipeline(TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3)),
                          OneVsRestClassifier(LogisticRegression(max_iter=1000)))
    model.fit([r.text for r in rows], label_matrix(rows, labels))
    start = time.perf_counter()
    count = 0
    with open(corpus, encoding="utf-8") as source, open(os.devnull, "w", encoding="utf-8") as sink:
        while batch := [json.loads(line) for _, line in zip(range(1024), source)]:
            probabilities = model.predict_proba([r["text"] for r in batch])
            for record, probs in zip(batch, probabilities.tolist()):
                record["scores"] = {label: round(p, 4) for label, p in zip(labels, probs)}
                record["labels"] = [label for label, p in zip(labels, probs) if p >= 0.5]
                sink.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += len(batch)
    return time.perf_counter() - start, count


def _segment_only(corpus: str) -> tuple[float, int]:
    import orjson

    from classifier.pipeline import Classifier
    from classifier.text.normalize import fold_many

    classifier = Classifier.load(None)
    tokenizer = classifier.scorer.model.blocks[0]._tokenize.__self__
    cut = tokenizer._segmenter().cut
    start = time.perf_counter()
    count = 0
    with open(corpus, "rb") as source:
        lines = source.readlines()
    for i in range(0, len(lines), 2048):
        for text in fold_many([orjson.loads(line)["text"] for line in lines[i: i + 2048]]):
            cut(text, True)
            count += 1
    return time.perf_counter() - start, count


def _pmc_fallback(corpus: str) -> tuple[float, int]:
    """`_pmc` without the compiled inner loops (as installed without a compiler)."""
    from classifier.text.scan import PURE_PYTHON_VARIABLE

    os.environ[PURE_PYTHON_VARIABLE] = "1"
    return _pmc(corpus)


METHODS = {"pmc": _pmc, "pmc_fallback": _pmc_fallback, "per_paragraph": _per_paragraph, "naive": _naive,
           "segment_only": _segment_only}
ROUND = ("pmc", "pmc_fallback", "naive", "segment_only", "per_paragraph")


# -- the harness ------------------------------------------------------------------------------

def _install_shipped(code: Path, registry: Path, env: dict[str, str]) -> dict[str, str]:
    """`env` with a registry holding `code`'s own shipped model, installed by `code` (an older
    checkout reads only the serving format it wrote)."""
    subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; "
                    "from classifier.scoring.registry import install_shipped; "
                    "install_shipped(Path(sys.argv[1]), registry=Path(sys.argv[2]))",
                    str(code / "models" / "shipped"), str(registry)],
                   env={**env, "PYTHONPATH": str(code)}, cwd=code, check=True)
    return {**env, "PMC_MODELS_DIR": str(registry)}


def _run(method: str, corpus: Path, *, cpu: int, env: dict[str, str], peer: Path | None = None,
         peer_env: dict[str, str] | None = None) -> dict[str, float]:
    code_root = peer if method == "per_paragraph" and peer is not None else ROOT
    if method == "per_paragraph" and peer_env is not None:
        env = peer_env
    out = subprocess.run(["taskset", "-c", str(cpu), sys.executable, str(Path(__file__).resolve()), "--run", method,
                          str(corpus)], env={**env, "PYTHONPATH": str(code_root)}, cwd=code_root,
                         check=True, capture_output=True, text=True)
    seconds, count = json.loads(out.stdout.strip().splitlines()[-1])
    return {"seconds": round(seconds, 3), "paragraphs": count, "per_s": round(count / seconds)}


def _cli(args: list[str], *, env: dict[str, str], cwd: Path = ROOT) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, all its processes) of one `pmc classify` run."""
    import resource

    command = [sys.executable, "-m", "classifier.cli", "classify", *args]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, env={**env, "PYTHONPATH": str(cwd)}, cwd=cwd, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _peak_rss(corpus: Path, *, env: dict[str, str]) -> float:
    # VmHWM of the probe's own address space (ru_maxrss would count the benchmark it forked from).
    probe = ("import sys;sys.argv=['pmc','classify',sys.argv[1],'-o','/dev/null'];"
             "from classifier.cli import main\ntry: main()\nexcept SystemExit: pass\n"
             "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0])")
    out = subprocess.run([sys.executable, "-c", probe, str(corpus)], env={**env, "PYTHONPATH": str(ROOT)},
                         cwd=ROOT, check=True, capture_output=True)
    return round(int(out.stdout.decode().split()[-1]) / 1024, 1)


def _documents(folder: Path, n: int) -> list[Path]:
    """`n` text documents made of the seeds' paragraphs, reshuffled, each with its own case number."""
    import random

    folder.mkdir(exist_ok=True)
    seeds = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "seeds").glob("*.txt"))]
    rng = random.Random(0)
    files = []
    for i in range(n):
        paragraphs = seeds[i % len(seeds)].split("\n\n")
        rng.shuffle(paragraphs)
        path = folder / f"d{i:04d}.txt"
        path.write_text("\n\n".join(paragraphs) + f"\n\n案件编号 {i}\n", encoding="utf-8")
        files.append(path)
    return files


def _repeat_corpus(source: Path, target: Path, n: int) -> None:
    lines = source.read_text(encoding="utf-8").splitlines()
    with target.open("w", encoding="utf-8") as out:
        for i in range(n):
            record = json.loads(lines[i % len(lines)])
            record["id"] = f"r{i}"
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", nargs=2, metavar=("METHOD", "CORPUS"), help=argparse.SUPPRESS)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--rss", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--peer", type=Path, default=None,
                        help="a checkout of the code before the batch path (default: `git archive` of PEER_COMMIT)")
    parser.add_argument("--parts", nargs="+", default=["throughput", "scaling", "documents", "cold", "rss"],
                        choices=["throughput", "scaling", "documents", "cold", "rss"], help="what to measure (default all)")
    parser.add_argument("--documents", type=int, default=600, help="text files for the documents part")
    parser.add_argument("--json", type=Path, default=ROOT / "docs" / "benchmark-classify.json",
                        help="merge the figures into this file, under the key 'batch' (each part its own entry)")
    args = parser.parse_args()
    if args.run:
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        print(json.dumps(METHODS[args.run[0]](args.run[1])))
        return

    from corpus import mixed_paragraphs, write_jsonl

    from classifier.scoring.registry import install_shipped

    work = Path(tempfile.mkdtemp(prefix="pmc-batch-"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", PMC_MODELS_DIR=str(work / "models"))
    install_shipped(ROOT / "models" / "shipped", registry=work / "models")
    peer = args.peer
    if peer is None:
        peer = work / "peer"
        peer.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", PEER_COMMIT], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(peer)], input=archive.stdout, check=True)
    peer_env = _install_shipped(peer, work / "models-peer", env)
    cpu = max(os.sched_getaffinity(0))
    load = os.getloadavg()
    figures: dict[str, object] = {"cpu": cpu, "load_average_at_start": [round(x, 2) for x in load],
                                  "peer": PEER_COMMIT if args.peer is None else str(args.peer), "sizes": {}}
    corpora = {}
    for n in sorted(set(args.sizes)):
        corpora[n] = work / f"corpus-{n}.jsonl"
        write_jsonl(corpora[n], mixed_paragraphs(n, seed=7))
    print(f"one core (CPU {cpu}); load average {load[0]:.2f}; peer {figures['peer']}")

    for n, corpus in corpora.items() if "throughput" in args.parts else ():
        best: dict[str, dict[str, float]] = {}
        for _ in range(args.rounds):
            for method in ROUND:
                result = _run(method, corpus, cpu=cpu, env=env, peer=peer, peer_env=peer_env)
                if method not in best or result["seconds"] < best[method]["seconds"]:
                    best[method] = result
        row = {m: best[m] for m in best}
        row["pmc_vs_naive"] = round(best["pmc"]["per_s"] / best["naive"]["per_s"], 2)
        row["pmc_fallback_vs_naive"] = round(best["pmc_fallback"]["per_s"] / best["naive"]["per_s"], 2)
        row["pmc_vs_pmc_fallback"] = round(best["pmc"]["per_s"] / best["pmc_fallback"]["per_s"], 2)
        row["pmc_vs_per_paragraph"] = round(best["pmc"]["per_s"] / best["per_paragraph"]["per_s"], 2)
        row["pmc_share_of_segment_only"] = round(best["pmc"]["per_s"] / best["segment_only"]["per_s"], 2)
        row["mb"] = round(corpus.stat().st_size / 1e6, 1)
        figures["sizes"][str(n)] = row
        print(f"{n:>9,} paragraphs ({row['mb']} MB): pmc {best['pmc']['per_s']:>6,}/s  "
              f"pmc without the C extension {best['pmc_fallback']['per_s']:>6,}/s  naive {best['naive']['per_s']:>6,}/s  "
              f"segmentation only {best['segment_only']['per_s']:>6,}/s  per-paragraph path {best['per_paragraph']['per_s']:>6,}/s"
              f"  → pmc/naive {row['pmc_vs_naive']}× (without the C extension {row['pmc_fallback_vs_naive']}×)")

    largest = corpora[max(corpora)]
    out = work / "out.jsonl"
    if "scaling" in args.parts:
        times: dict[str, tuple[float, float]] = {}
        paired: list[float] = []  # --jobs 1 ÷ --jobs 2 within each round: a drift in the machine's speed
        for _ in range(args.rounds):  # between rounds (this host's CPUs are shared) cancels out
            this_round = {}
            for name, extra in (("jobs_1", ["--jobs", "1"]), ("jobs_2", ["--jobs", "2"]),
                                ("dask_2", ["--jobs", "2", "--engine", "dask"])):
                wall, cpu_s = _cli([str(largest), "-o", str(out), *extra], env=env)
                this_round[name] = wall
                if name not in times or wall < times[name][0]:
                    times[name] = (wall, cpu_s)
            paired.append(this_round["jobs_1"] / this_round["jobs_2"])
        wall = {k: v[0] for k, v in times.items()}
        cpu_s = {k: v[1] for k, v in times.items()}
        figures["scaling"] = {
            "paragraphs": max(corpora), "load_average": [round(x, 2) for x in os.getloadavg()],
            "wall_s": {k: round(v, 2) for k, v in wall.items()}, "cpu_s": {k: round(v, 2) for k, v in cpu_s.items()},
            "jobs_2_speedup": round(wall["jobs_1"] / wall["jobs_2"], 2),
            "jobs_2_speedup_per_round": [round(x, 2) for x in paired],
            "jobs_2_speedup_median_of_rounds": round(sorted(paired)[len(paired) // 2], 2),
            # what two free cores would give: the work per paragraph is the CPU time, split two ways
            "jobs_2_speedup_by_cpu_time": round(2 * cpu_s["jobs_1"] / cpu_s["jobs_2"], 2),
            "dask_2_vs_jobs_2": round(wall["jobs_2"] / wall["dask_2"], 2),
            "dask_2_cpu_vs_jobs_2_cpu": round(cpu_s["dask_2"] / cpu_s["jobs_2"], 2),
        }
        print(f"--jobs 1 {wall['jobs_1']:.1f} s ({cpu_s['jobs_1']:.1f} CPU-s), --jobs 2 {wall['jobs_2']:.1f} s "
              f"({cpu_s['jobs_2']:.1f} CPU-s): {figures['scaling']['jobs_2_speedup']}× wall, "
              f"{figures['scaling']['jobs_2_speedup_by_cpu_time']}× by CPU time, per round {figures['scaling']['jobs_2_speedup_per_round']}; "
              f"dask 2 workers {wall['dask_2']:.1f} s "
              f"({cpu_s['dask_2']:.1f} CPU-s) on {max(corpora):,} paragraphs")

    if "documents" in args.parts:  # a folder of .txt documents: read, segment, classify
        folder = work / "documents"
        files = _documents(folder, args.documents)
        doc_times: dict[str, tuple[float, float]] = {}
        doc_paired: list[float] = []
        for _ in range(args.rounds):
            this_round = {}
            for name, extra in (("jobs_1", ["--jobs", "1"]), ("jobs_2", ["--jobs", "2"])):
                wall, cpu_s = _cli([*map(str, files), "-o", str(out), *extra], env=env)
                this_round[name] = wall
                if name not in doc_times or wall < doc_times[name][0]:
                    doc_times[name] = (wall, cpu_s)
            doc_paired.append(this_round["jobs_1"] / this_round["jobs_2"])
        paragraphs = sum(1 for _ in out.open(encoding="utf-8"))
        figures["documents"] = {
            "files": len(files), "paragraphs": paragraphs,
            "wall_s": {k: round(v[0], 2) for k, v in doc_times.items()},
            "cpu_s": {k: round(v[1], 2) for k, v in doc_times.items()},
            "jobs_2_speedup": round(doc_times["jobs_1"][0] / doc_times["jobs_2"][0], 2),
            "jobs_2_speedup_per_round": [round(x, 2) for x in doc_paired],
        }
        print(f"{len(files)} documents ({paragraphs:,} paragraphs): --jobs 1 {doc_times['jobs_1'][0]:.2f} s, "
              f"--jobs 2 {doc_times['jobs_2'][0]:.2f} s, per round {figures['documents']['jobs_2_speedup_per_round']}")

    one = json.dumps({"text": "边检站加强口岸查缉，严防偷渡人员闯关出境。"}, ensure_ascii=False).encode() + b"\n"
    starts: dict[str, list[float]] = {"pmc": [], "pmc_fallback": [], "base": [], "peer": [], "python_c_pass": []}
    if "cold" not in args.parts:
        starts = {}
    base, base_env = work / "base", env
    if starts:  # the batch path before the C extension and serving format 2
        base.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", BASE_COMMIT], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(base)], input=archive.stdout, check=True)
        base_env = _install_shipped(base, work / "models-base", env)
    for cwd, extra in ((ROOT, env), (peer, peer_env), (base, base_env)) if starts else ():  # compile the bytecode once,
        subprocess.run([sys.executable, "-m", "classifier.cli", "classify", "-"], input=one,  # as an install has it
                       env={**extra, "PYTHONPATH": str(cwd)}, cwd=cwd, check=True, capture_output=True)
    fallback = {**env, "PMC_PURE_PYTHON": "1"}
    for _ in range(7 if starts else 0):
        for name, cwd, extra in (("pmc", ROOT, env), ("pmc_fallback", ROOT, fallback), ("base", base, base_env),
                                 ("peer", peer, peer_env)):
            start = time.perf_counter()
            subprocess.run(["taskset", "-c", str(cpu), sys.executable, "-m", "classifier.cli", "classify", "-"], input=one,
                           env={**extra, "PYTHONPATH": str(cwd)}, cwd=cwd, check=True, capture_output=True)
            starts[name].append(time.perf_counter() - start)
        start = time.perf_counter()  # the interpreter alone, with this machine's site hooks: the floor
        subprocess.run(["taskset", "-c", str(cpu), sys.executable, "-c", "pass"], env=env, check=True)
        starts["python_c_pass"].append(time.perf_counter() - start)
    if starts:
        figures["cold_start_s"] = {name: {"best": round(min(v), 3), "median": round(sorted(v)[3], 3)} for name, v in starts.items()}
        probe = ("import sys, time; t = time.perf_counter(); import numpy; print(time.perf_counter() - t)")
        figures["cold_start_s"]["numpy_import_best"] = round(min(
            float(subprocess.run(["taskset", "-c", str(cpu), sys.executable, "-c", probe], capture_output=True, text=True,
                                 env=env).stdout) for _ in range(5)), 3)
        print("cold start: " + "; ".join(f"{name} best {min(v):.3f} s, median {sorted(v)[3]:.3f} s"
                                         for name, v in starts.items()))

    if args.rss and "rss" in args.parts:
        base = corpora[max(corpora)]
        peaks = {}
        for n in args.rss:
            path = work / f"rss-{n}.jsonl"
            _repeat_corpus(base, path, n)
            peaks[str(n)] = _peak_rss(path, env=env)
            path.unlink()
        figures["peak_rss_mb"] = peaks
        print("peak RSS of pmc classify: " + ", ".join(f"{int(n):,}: {mb} MB" for n, mb in peaks.items()))
    figures["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    if args.json:
        merged = json.loads(args.json.read_text(encoding="utf-8")) if args.json.exists() else {}
        batch = merged.setdefault("batch", {})
        for key, value in figures.items():
            if key == "sizes":
                batch.setdefault("sizes", {}).update(value)
            else:
                batch[key] = value
        args.json.write_text(json.dumps(merged, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


PEER_COMMIT = "aec2a53"  # the last commit before the batch path (issue 12)
BASE_COMMIT = "0394a37"  # the batch path before the C extension and serving format 2

if __name__ == "__main__":
    main()
