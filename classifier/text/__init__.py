"""Floor 1 — text: bytes to paragraphs to normalised text to tokens and concept hits.

`reader` turns files (txt/md in any supported encoding, html, docx, pdf, JSONL) into a
`Document`; `segmenter` cuts it into `paragraph.Paragraph`s (content-hash ids); `normalize` is
the one place text is folded (NFKC, Traditional to Simplified, lower case); `language` tells
zh / zh-Hant / en / mixed; `tokenize` gives jieba-exact tokens; `concepts` finds the codebook's
bilingual concept terms with spans; `scan` says whether the optional C extension `_scan` (the
batch path's inner loops) runs. May import only `classifier.errors` and `classifier.paths`:
no scikit-learn, no SQL, no codebook file (the terms come in as data).
"""
