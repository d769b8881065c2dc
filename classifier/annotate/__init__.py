"""Floor 5 — annotate: what annotators and reviewers do, as plain functions (no UI).

`queue` chooses the next paragraph (query strategies over a `store.PoolView`, small-text
style); `session` is the Label page's work (next item with one explanation, save, back);
`review` the Review page's (queues, side-by-side answers, adjudication); `agreement` computes
Cohen's κ and Krippendorff's α; `codebook` is the codebook view; `highlight` renders escaped
text with evidence marks. May import everything below it (`workspace`, `store`, `scoring`,
`labels`, `text`) — never scikit-learn, never Streamlit.
"""
