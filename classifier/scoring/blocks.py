"""The names of the model's feature blocks: one constant set, used by every module that builds,
serves or explains features (the scikit-learn union, the serving form, explanations)."""

from __future__ import annotations

__all__ = ["WORDS", "CHARS", "SUBWORDS", "CONCEPTS", "BLOCKS", "feature_name"]

WORDS = "words"  # word 1..n-gram TF-IDF over the jieba-exact tokenizer
CHARS = "chars"  # Han character uni/bigram TF-IDF
CONCEPTS = "concepts"  # codebook concept and category indicators
SUBWORDS = "subwords"  # character 3-5-grams inside Latin-script words (English morphology)
BLOCKS = (WORDS, CHARS, SUBWORDS, CONCEPTS)


def feature_name(block: str, feature: str) -> str:
    """A feature's full name, as scikit-learn's FeatureUnion writes it: ``block__feature``."""
    return f"{block}__{feature}"
