"""Floor 4 — model: learning, the only place scikit-learn is imported.

`vectorizer` (word TF-IDF equal to scikit-learn's) and `features` (the feature union, over
`scoring.featurize`) build features; `estimator.MeasureClassifier` is the multi-label model
(one balanced logistic regression per label, Platt calibration, tuned thresholds);
`evaluation` gives grouped and repeated cross-validation, baselines, transfer and held-out
metrics. A fitted model becomes servable through `scoring.serving.ServingModel.from_classifier`.
May import `text`, `labels`, `scoring`, `errors`, `paths` — never the store or the app.
"""
