"""Floor 3 — scoring: a trained model as plain arrays, scored and explained without scikit-learn.

`decision` is the one decision rule (Platt sigmoid, thresholds and their cap, labels from
scores); `blocks` names the feature blocks; `featurize` is the one implementation of the
features (TF-IDF rows, concept rows) on folded text; `serving` is the model as arrays + JSON;
`batch` scores thousands of texts at once with numpy alone (the `pmc classify` path);
`explain` gives exact per-feature evidence from the serving form; `registry` saves, lists,
activates and loads versions (SHA-256 checked, cached per process; `ACTIVE` is the one record of
the active version). Everything `pmc classify`, the app and the score cache need. May import
`classifier.text`, `classifier.labels`, `errors`, `paths` — never scikit-learn (a test asserts
it), never the store.
"""
