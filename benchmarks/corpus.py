"""Synthetic benchmark corpora built from the seeds: every paragraph unique, mixed zh/en.

Sentences of the seed paragraphs are recombined (2-6 per paragraph, drawn across documents
of the same language) and perturbed (numbers replaced, a sentence shuffled in, a random
case number appended), so no cache of repeated text can flatter a throughput figure.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

from classifier.labels.gold import load_labelled, seed_paragraphs
from classifier.text.segmenter import split_sentences

__all__ = ["seed_sentences", "mixed_paragraphs", "write_jsonl", "labelled_sample"]


def seed_sentences() -> dict[str, list[str]]:
    """Sentences of the seed documents by script: {"zh": [...], "en": [...]}."""
    out: dict[str, list[str]] = {"zh": [], "en": []}
    for paragraph in seed_paragraphs():
        key = "en" if paragraph.lang == "en" else "zh"
        out[key].extend(s for s in split_sentences(paragraph.text) if len(s) > 8)
    return out


def _perturb(sentence: str, rng: random.Random, zh: bool) -> str:
    digits = "".join(str(rng.randrange(10)) for _ in range(rng.randrange(1, 5)))
    if rng.random() < 0.5:
        sentence = sentence.replace("年", f"{digits}年", 1) if zh else sentence.replace(" the ", f" the {digits} ", 1)
    return sentence


def mixed_paragraphs(n: int, *, seed: int = 0, zh_share: float = 0.5) -> Iterator[str]:
    """`n` unique paragraphs, `zh_share` of them Chinese (some converted to Traditional)."""
    from classifier.text.normalize import _t2s  # noqa: F401 - warm OpenCC outside the timed path
    import opencc

    to_traditional = opencc.OpenCC("s2t")
    sentences = seed_sentences()
    rng = random.Random(seed)
    for i in range(n):
        zh = rng.random() < zh_share
        pool = sentences["zh" if zh else "en"]
        chosen = [_perturb(rng.choice(pool), rng, zh) for _ in range(rng.randrange(2, 7 if zh else 5))]
        text = ("" if zh else " ").join(chosen)
        text += f"（案号{i}）" if zh else f" (case no. {i})"
        if zh and rng.random() < 0.2:
            text = to_traditional.convert(text)
        yield text


def write_jsonl(path: Path, texts: Iterator[str]) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for count, text in enumerate(texts, start=1):
            out.write(json.dumps({"id": f"b{count}", "text": text}, ensure_ascii=False) + "\n")
    return count


def labelled_sample(n: int, *, seed: int = 0) -> tuple[list[str], list[tuple[str, ...]], list[str]]:
    """`n` unique labelled paragraphs for training-time measurement (gold texts, perturbed)."""
    rows = load_labelled()
    rng = random.Random(seed)
    texts, labels, groups = [], [], []
    for i in range(n):
        row = rng.choice(rows)
        zh = row.lang != "en"
        sentences = split_sentences(row.text)
        rng.shuffle(sentences)
        texts.append(("" if zh else " ").join(_perturb(s, rng, zh) for s in sentences) + f" #{i}")
        labels.append(row.labels)
        groups.append(row.split_group)
    return texts, labels, groups
