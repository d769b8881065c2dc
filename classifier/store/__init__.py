"""Floor 3 — the annotation store: the only code that speaks SQL.

One database (`--db`, else `PMC_DB`, else `data/pmc.sqlite`; an SQLite path, or a
`postgresql://` URL for a team) holds the documents and their
paragraphs (content-hash ids: the same text is stored once however many documents contain it),
every annotator answer, every gold adjudication, a log of the model versions seen, cached model
scores, the short-lived claims that keep two annotators off the same paragraph, the users and
their roles, and a log of team actions. Answers, gold decisions and the log are append-only
(triggers refuse UPDATE and DELETE, and TRUNCATE on PostgreSQL); the current label of a
paragraph is derived from them, never stored (`records.derive`).

Modules, one table family each: `connection` (opening, transactions, errors: where the dialect
lives), `schema` (migrations), `records` (what is returned, and the derivation rule),
`documents`, `answers`, `gold`, `current` (derived labels, progress), `pool` (what an annotator
may be given, claims), `models` (versions seen, score cache), `users` (roles, the permission
rule, the team log), `postgres` (the PostgreSQL dialect, schema and grants), `transfer` (copying
a store between backends). Writes are short `BEGIN
IMMEDIATE` transactions, one per answer, so several processes can write at once (WAL) and a
killed process loses nothing it saved. A `Store` can be shared between threads: calls are
serialised by a lock. May import `text`, `labels`, `errors`, `paths`.
"""

from __future__ import annotations

from .answers import (
    all_answers, answer_count, annotations_for, answers_by, history, import_answers, last_answer, latest_answers,
    record_answer,
)
from .connection import Store, open_store
from .current import current_labels, data_version, progress
from .documents import (
    EDITABLE_META, document_meta, document_rows, edit_document_meta, document_window, get_paragraph, get_paragraphs, ingest_document, ingest_paragraphs,
    is_empty, list_documents, positions_of,
)
from .gold import export_gold, gold_rows, import_gold, latest_gold, set_gold
from .models import (
    clear_scores, list_model_versions, read_scores, register_model, unscored_count, unscored_paragraphs, write_scores,
)
from .pool import (
    DEFAULT_CLAIM_SECONDS, PoolView, active_claims, claim_for_revision, claim_paragraph, current_claim, pool_count,
    pool_filter, pool_ids, release_claims,
)
from .records import ANSWERS, STATUSES, Answer, Claim, CurrentLabel, GoldDecision, Pool, derive
from .schema import SCHEMA_VERSION

__all__ = [
    "ANSWERS", "STATUSES", "SCHEMA_VERSION", "DEFAULT_CLAIM_SECONDS",
    "Store", "Answer", "Claim", "GoldDecision", "CurrentLabel", "Pool", "PoolView", "derive",
    "open_store", "is_empty", "document_rows", "document_window", "list_documents", "unscored_paragraphs", "unscored_count",
    "data_version", "ingest_document", "ingest_paragraphs", "get_paragraph", "get_paragraphs", "positions_of",
    "record_answer", "import_answers", "all_answers", "document_meta", "edit_document_meta", "EDITABLE_META", "last_answer", "answers_by", "annotations_for", "history", "latest_answers",
    "set_gold", "latest_gold", "import_gold", "export_gold", "gold_rows", "current_labels", "progress",
    "register_model", "list_model_versions", "write_scores", "read_scores", "clear_scores",
    "pool_count", "pool_ids", "pool_filter", "claim_paragraph", "claim_for_revision", "current_claim", "release_claims", "active_claims", "answer_count",
]
