"""Floor 2 — labels: the codebook and labelled data as validated data.

`taxonomy` loads `labels/taxonomy.toml` into a frozen, validated `Taxonomy` (label ids,
definitions, conventions, bilingual concept terms as `Taxonomy.lexicon`, examples, content
hash); `gold` is the gold JSONL format (`LabelledParagraph`, load/write/check, codebook
examples as records); `splits` makes leak-free evaluation folds (by document and duplicate
group). May import `classifier.text`, `errors`, `paths`.
"""
