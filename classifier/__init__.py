"""pmc — code official documents paragraph by paragraph into policy measures.

The library, floor by floor; a module imports only from floors below it (a test asserts it):

0. `errors` (the exception hierarchy), `paths` (where runtime files live)
1. `text` — bytes to paragraphs to folded text to tokens and concept hits
2. `labels` — the codebook (taxonomy), the gold file format, evaluation splits
3. `scoring` — a model as arrays: decision rule, features, serving form, explanations, registry
   (no scikit-learn); `store` — the annotation store (the only SQL)
4. `model` — learning (the only scikit-learn); `workspace` — a store + a registry + loaded models
5. `annotate` — what annotators and reviewers do: queue, label session, review, agreement
6. jobs — `training`, `classify` (batch); then `retraining` (Model page), `corpus` (Documents
   page), `report` (evaluation report), `bootstrap` (first start)
7. `cli` — the `pmc` command; the Streamlit app (`app.py`, `ui/`) sits beside it, outside the
   package
"""
