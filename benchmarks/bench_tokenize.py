"""Benchmark of ``classifier.tokenize``: agreement with jieba, throughput and cold start.

    python benchmarks/bench_tokenize.py            # full run (a few minutes)
    python benchmarks/bench_tokenize.py --quick    # smaller corpus

1. Agreement. The corpus is built from the Chinese of ``seeds/*.txt``: the seed paragraphs
   (zh-seed); ~150-character paragraphs recombined from seed clauses with numbers and the domain
   terms written with ASCII and full-width parentheses (zh-news); the same with perturbations
   (dropped, swapped and inserted characters, random runs of rare characters that only the HMM
   can segment: zh); zh converted to Traditional (zh-Hant; the tokenizer converts back); zh with
   English words and sentences inside (mixed); random jieba-dictionary words (zh-stress); and
   ~600-character English paragraphs from the English seeds (en). Half of the Chinese
   paragraphs use full-width punctuation. Each paragraph is tokenised twice: by
   ``Tokenizer`` (jieba-rs) and by a reference that runs the same normalisation but segments
   every Han run with ``jieba.lcut(run, HMM=True)`` after ``jieba.add_word(term,
   DOMAIN_TERM_FREQ)``. Differences are printed.
2. Throughput on one core, paragraphs and characters per CPU second (process time, so other
   load on a shared machine does not count): plain ``jieba.lcut``, the reference pipeline on
   jieba, and ``Tokenizer``; the best of several rounds, nothing cached between paragraphs.
3. Cold start: a fresh ``python -c`` that imports the module and tokenises one paragraph.
"""

from __future__ import annotations

import argparse
import logging
import random
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from classifier.labels.taxonomy import default_terms  # noqa: E402
from classifier.text.normalize import collapse_optional_chars as _collapse_optional_chars  # noqa: E402
from classifier.text.normalize import fold as normalize_for_features  # noqa: E402
from classifier.text.tokenize import (  # noqa: E402
    _HAN_CHAR,
    _NON_HAN,
    DOMAIN_TERM_FREQ,
    Tokenizer,
    _word_tokens,
)

# Terms of the seed text, some new to jieba's dictionary and some already in it (口岸, 蛇头, 偷渡,
# 出入境), so that the benchmark exercises both kinds of add_word; the codebook's are added too.
BENCH_TERMS = (
    "妨害国（边）境管理", "口岸", "集群战役", "獴猎", "蛇头", "挂牌督办", "物防技防人防",
    "偷渡", "出入境", "查缉", "边境管控", "跨境犯罪", "国门安全", "移民管理", "反偷渡",
    "联侦联办", "追逃缉捕", "源头治理", "全链条打击", "边境巡防", "精准查缉", "非法出入境",
)
NUMBERS = ("2024年", "7月22日", "735起", "1,461名", "3.5%", "1.4万", "三千", "2,000余人", "第3季度")
ENGLISH = ("NIA", "Mongoose Hunting-2025", "the nation's borders", "APEC", "WeChat", "COVID-19")
TERM_VARIANTS = ("妨害国（边）境管理", "妨害国(边)境管理", "妨害国边境管理", "“獴猎”", "集群战役", "口岸")


# --- corpus --------------------------------------------------------------------------------------


def seed_texts() -> tuple[list[str], list[str]]:
    """(Chinese paragraphs, English paragraphs) of the seed files."""
    zh, en = [], []
    for path in sorted((ROOT / "seeds").glob("*.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if not line:
                continue
            if _HAN_CHAR.search(line):
                zh.append(line)
            elif len(line) > 40:
                en.append(line)
    return zh, en


def build_corpus(n: int, seed: int = 0) -> dict[str, list[str]]:
    import jieba
    import opencc

    rng = random.Random(seed)
    zh_seed, en_seed = seed_texts()
    clauses = [c for p in zh_seed for c in re.findall(r"[^，。、：；！？,:;!?]+[，。、：；！？,:;!?]?", p)]
    clauses = [c.strip(" •") for c in clauses if _HAN_CHAR.search(c)]
    seed_chars = sorted({ch for p in zh_seed for ch in p if _HAN_CHAR.match(ch)})
    dict_words, dict_freqs = _jieba_dict(Path(jieba.__file__).parent / "dict.txt")
    dict_chars = [w for w in dict_words if len(w) == 1]

    def perturb(text: str) -> str:
        chars = list(text)
        for _ in range(rng.randint(0, 4)):
            if not chars:
                break
            i = rng.randrange(len(chars))
            op = rng.random()
            if op < 0.3:
                del chars[i]
            elif op < 0.5 and i + 1 < len(chars):
                chars[i], chars[i + 1] = chars[i + 1], chars[i]
            elif op < 0.8:
                chars.insert(i, rng.choice(seed_chars))
            else:  # a run of rare characters: unknown to the dictionary, left to the HMM
                chars.insert(i, "".join(rng.choices(dict_chars, k=rng.randint(2, 4))))
        return "".join(chars)

    def paragraph(target: int, noisy: bool) -> str:
        parts = []
        while sum(map(len, parts)) < target:
            r = rng.random()
            if r < 0.08:
                parts.append(rng.choice(NUMBERS))
            elif r < 0.12:
                parts.append(rng.choice(TERM_VARIANTS))
            else:
                clause = rng.choice(clauses)
                parts.append(perturb(clause) if noisy else clause)
        return "".join(parts)

    # the seed uses ASCII punctuation; most Chinese text uses the full-width forms
    full_width = str.maketrans(",:;()!?", "，：；（）！？")
    zh_news = [paragraph(rng.randint(120, 180), False) for _ in range(n)]
    zh_news = [p.translate(full_width) if i % 2 else p for i, p in enumerate(zh_news)]
    zh = [paragraph(rng.randint(120, 180), True) for _ in range(n)]
    zh = [p.translate(full_width) if i % 2 else p for i, p in enumerate(zh)]
    s2t = opencc.OpenCC("s2t")
    s2tw = opencc.OpenCC("s2tw")
    zh_hant = [(s2t if i % 2 else s2tw).convert(p) for i, p in enumerate(zh)]

    def english(target: int) -> str:
        sentences = [s for p in en_seed for s in re.split(r"(?<=[.?!])\s+", p) if len(s) > 20]
        out = []
        while sum(map(len, out)) < target:
            out.append(rng.choice(sentences))
        return " ".join(out)

    en = [english(rng.randint(350, 550)) for _ in range(n)]
    mixed = []
    for i in range(n):
        words = rng.choice(en[i].split(". ")).split()[:12]
        k = rng.randrange(len(zh[i]))
        mixed.append(zh[i][:k] + " " + " ".join(words) + " " + rng.choice(ENGLISH) + zh[i][k:])

    def stress() -> str:
        out = []
        while sum(map(len, out)) < 150:
            r = rng.random()
            if r < 0.6:
                out.extend(rng.choices(dict_words, weights=dict_freqs, k=rng.randint(1, 6)))
            elif r < 0.8:
                out.extend(rng.choices(dict_words, k=rng.randint(1, 3)))
            else:
                out.extend(rng.choices(dict_chars, k=rng.randint(1, 5)))
            out.append(rng.choice("，。、；"))
        return "".join(out)

    return {
        "zh-seed": zh_seed,
        "zh-news": zh_news,
        "zh": zh,
        "zh-Hant": zh_hant,
        "mixed": mixed,
        "zh-stress": [stress() for _ in range(n)],
        "en": en,
    }


def _jieba_dict(path: Path) -> tuple[list[str], list[int]]:
    words, freqs = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        word, freq = line.split(" ")[:2]
        if re.fullmatch("[\u4e00-\u9fd5]+", word):
            words.append(word)
            freqs.append(int(freq))
    return words, freqs


# --- the jieba reference -------------------------------------------------------------------------


def jieba_reference(user_words: tuple[str, ...], *, exact_total: bool = False) -> Callable:
    """A jieba.Tokenizer with the user words added as the brief says: add_word(term, freq).

    ``exact_total`` also removes the old frequency of a word that was already in the dictionary
    from ``total`` (what jieba-rs does; jieba keeps both, fxsjy/jieba#594).
    """
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jt = jieba.Tokenizer()
    jt.initialize()
    for word in user_words:
        old = jt.FREQ.get(word, 0)
        jt.add_word(word, DOMAIN_TERM_FREQ)
        if exact_total:
            jt.total -= old
    return jt


def reference_tokens(text: str, jt, stem: bool = True) -> list[str]:
    """The tokenizer's contract written out plainly, with jieba.lcut on every Han run."""
    text = normalize_for_features(text)
    if not _HAN_CHAR.search(text):
        return _word_tokens(text, stem)
    out: list[str] = []
    for i, piece in enumerate(_NON_HAN.split(_collapse_optional_chars(text))):
        if i % 2:
            out.extend(_word_tokens(piece, stem))
        elif piece:
            out.extend(jt.lcut(piece, HMM=True))
    return out


# --- measurements --------------------------------------------------------------------------------


def agreement(corpus: dict[str, list[str]], tok: Tokenizer, jt, show: int = 3) -> dict[str, float]:
    results = {}
    for name, paragraphs in corpus.items():
        same = 0
        shown = 0
        for p in paragraphs:
            ours, ref = tok(p), reference_tokens(p, jt, tok.stem)
            if ours == ref:
                same += 1
            elif shown < show:
                shown += 1
                _show_diff(name, p, ref, ours)
        results[name] = 100.0 * same / len(paragraphs)
    return results


def _show_diff(name: str, text: str, ref: list[str], ours: list[str]) -> None:
    i = next(
        (k for k in range(min(len(ref), len(ours))) if ref[k] != ours[k]), min(len(ref), len(ours))
    )
    print(f"  [{name}] differs at token {i}: {text[:60]!r}...")
    print(f"      jieba : {' / '.join(ref[max(0, i - 3): i + 4])}")
    print(f"      ours  : {' / '.join(ours[max(0, i - 3): i + 4])}")


def rate(fn: Callable[[str], object], paragraphs: list[str], rounds: int) -> float:
    """Paragraphs per CPU second, best of ``rounds``.

    CPU time of this process (``time.process_time``), not wall time: on a shared machine the
    time spent waiting for a core is not ours, and "per core" is what the target is about.
    """
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for p in paragraphs:
            fn(p)
        best = min(best, time.process_time() - start)
    return len(paragraphs) / best


COLD = """
import time
t0, c0 = time.perf_counter(), time.process_time()
{imports}
tokens = {call}
t1, c1 = time.perf_counter(), time.process_time()
print(repr(t1 - t0), repr(c1 - c0), repr(c1), len(tokens))
"""


def cold_start(imports: str, call: str, runs: int = 5) -> dict[str, float]:
    """Medians over fresh processes: ``wall``/``cpu`` from the first import to the first tokens,
    ``process_cpu`` the CPU time of the whole process (interpreter start-up included) and
    ``process_wall`` its wall time as seen from outside."""
    rows = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", COLD.format(imports=imports, call=call)],
            cwd=ROOT, capture_output=True, text=True, check=True,
        )
        process_wall = time.perf_counter() - start
        wall, cpu, process_cpu = map(float, done.stdout.split()[:3])
        rows.append((wall, cpu, process_cpu, process_wall))
    keys = ("wall", "cpu", "process_cpu", "process_wall")
    return {k: statistics.median(r[i] for r in rows) for i, k in enumerate(keys)}


def _print_cold(label: str, c: dict[str, float]) -> None:
    print(f"  {label:34s} {c['wall']:.3f} s ({c['cpu']:.3f} s CPU); whole process "
          f"{c['process_wall']:.3f} s ({c['process_cpu']:.3f} s CPU)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller corpus, fewer rounds")
    parser.add_argument("--paragraphs", type=int, default=None, help="paragraphs per set")
    args = parser.parse_args()
    n = args.paragraphs or (300 if args.quick else 1000)
    rounds = 3 if args.quick else 5

    terms = tuple(dict.fromkeys(BENCH_TERMS + default_terms()))
    tok = Tokenizer(terms)
    print(f"corpus: {n} paragraphs per set; {len(tok.user_words)} domain terms "
          f"({len(default_terms())} from the codebook); term frequency {DOMAIN_TERM_FREQ}")
    corpus = build_corpus(n)
    for name, ps in corpus.items():
        avg = statistics.mean(map(len, ps))
        print(f"  {name:10s} {len(ps):5d} paragraphs, {avg:6.0f} chars avg")

    print("\n1. agreement with jieba.lcut(run, HMM=True) after jieba.add_word(term, freq):")
    print("   share of paragraphs whose token lists are identical")
    jt = jieba_reference(tok.user_words)
    for name, pct in agreement(corpus, tok, jt).items():
        print(f"  {name:10s} {pct:7.3f} % identical")
    print("   ... and with jieba's total corrected for re-added words (what jieba-rs computes)")
    jt_exact = jieba_reference(tok.user_words, exact_total=True)
    for name, pct in agreement(corpus, tok, jt_exact).items():
        print(f"  {name:10s} {pct:7.3f} % identical")

    print("\n2. throughput, one core (best of rounds)")
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    for name in ("zh-news", "zh", "zh-Hant", "mixed", "en"):
        ps = corpus[name]
        chars = statistics.mean(map(len, ps))
        slow = ps[: max(100, len(ps) // 5)]
        rows = []
        if name != "en":
            lcut = rate(lambda p: jieba.lcut(p, HMM=True), slow, rounds)
            rows.append(("jieba.lcut (segmentation only)", lcut))
            ref = rate(lambda p: reference_tokens(p, jt, tok.stem), slow, rounds)
            rows.append(("reference pipeline on jieba", ref))
        rows.append(("Tokenizer (jieba-rs)", rate(tok, ps, rounds)))
        print(f"  {name} ({chars:.0f} chars/paragraph)")
        for label, r in rows:
            print(f"    {label:32s} {r:9.0f} paragraphs/s {r * chars / 1e6:7.2f} M chars/s")

    try:
        from sklearn.feature_extraction.text import TfidfVectorizer

        both = corpus["zh"] + corpus["en"]
        random.Random(1).shuffle(both)
        vec = TfidfVectorizer(tokenizer=tok, token_pattern=None, lowercase=False).fit(both)
        best = float("inf")
        for _ in range(max(1, rounds // 2)):
            start = time.process_time()
            vec.transform(both)
            best = min(best, time.process_time() - start)
        print(f"  TfidfVectorizer.transform, zh+en 50/50: {len(both) / best:9.0f} paragraphs/s")
    except ImportError:
        pass

    print("\n3. cold start: fresh process, first import to first tokens (median of 5 runs)")
    para = corpus["zh-Hant"][0]
    _print_cold("python -c pass", cold_start("pass", "[]"))
    _print_cold(
        "Tokenizer(terms)(paragraph)",
        cold_start("from classifier.text.tokenize import Tokenizer", f"Tokenizer({terms!r})({para!r})"),
    )
    _print_cold(
        "tokenize(paragraph), codebook terms",
        cold_start("from classifier.labels.taxonomy import codebook_tokenizer", f"codebook_tokenizer()({para!r})"),
    )
    _print_cold("jieba.lcut (its cache file present)", cold_start(
        "import jieba, logging; jieba.setLogLevel(logging.WARNING)", f"jieba.lcut({para!r})", runs=3
    ))


if __name__ == "__main__":
    main()
