"""The pool and claims: which paragraphs an annotator may be given, and who holds which.

A `records.Pool` says whose pool it is; `PoolView` is what a query strategy sees of it (walks
in document, uncertainty or shuffled order, optionally only paragraphs containing some search
terms), so strategies never touch SQL. Claims keep two sessions off the same paragraph.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

from ..errors import StoreError
from ..text.normalize import search_key
from .connection import NO_LIMIT, Store, _chunks, _in, _now, _read, _write, retrying
from .documents import get_paragraphs
from .records import Claim, Pool, _check_name

__all__ = ["DEFAULT_CLAIM_SECONDS", "PoolView", "pool_count", "pool_ids", "pool_filter", "claim_paragraph",
           "claim_for_revision", "current_claim", "release_claims", "active_claims"]

DEFAULT_CLAIM_SECONDS = 600.0


# Correlated subqueries, each an index lookup: a walk in document, uncertainty or shuffled order
# stops at the first eligible rows instead of materialising every answer (~0.5 ms vs ~50 ms at
# 100,000 paragraphs). Only counting the whole pool scans every row.
_ELIGIBLE = """
    NOT EXISTS (SELECT 1 FROM annotations a
        WHERE a.paragraph_id = p.paragraph_id AND a.annotator = :annotator)
    AND (:include_gold OR NOT EXISTS (SELECT 1 FROM gold g WHERE g.paragraph_id = p.paragraph_id))
    AND (:include_codebook OR NOT EXISTS (SELECT 1 FROM gold g WHERE g.paragraph_id = p.paragraph_id
        AND g.source = 'codebook'))
    AND NOT EXISTS (SELECT 1 FROM claims c WHERE c.paragraph_id = p.paragraph_id
        AND c.annotator != :annotator AND c.expires_at > :now)
    AND (SELECT COUNT(DISTINCT a.annotator) FROM annotations a WHERE a.paragraph_id = p.paragraph_id
        AND a.answer != 'skip' AND a.annotator != :annotator)
        < (CASE WHEN p.overlap_key < :overlap THEN :overlap_annotators ELSE 1 END)
"""


def _pool_params(pool: Pool) -> dict[str, Any]:
    return {
        "annotator": pool.annotator,
        "include_gold": bool(pool.include_gold),
        "include_codebook": bool(pool.include_codebook),
        "now": _now(),
        "overlap": pool.overlap,
        "overlap_annotators": pool.overlap_annotators,
    }


def _eligible(terms: Sequence[str]) -> tuple[str, dict[str, str]]:
    """The pool condition and its extra parameters; with `terms`, only paragraphs whose
    `search_key` contains one of them (`text.normalize.search_key` of each term).

    The term test sits inside CASE so it runs only on eligible rows (left to itself, SQLite
    would run the cheap-looking test first, on every row it walks).
    """
    keys = list(dict.fromkeys(k for k in (search_key(t).strip() for t in terms) if k))
    if not keys:
        return _ELIGIBLE, {}
    params = {f"term{i}": key for i, key in enumerate(keys)}
    test = " OR ".join(f"instr(p.search_key, :{name}) > 0" for name in params)
    return f"(CASE WHEN {_ELIGIBLE} THEN ({test}) ELSE false END)", params


def pool_count(store: Store, pool: Pool, *, terms: Sequence[str] = ()) -> int:
    """How many paragraphs are in the pool (only those containing one of `terms`, if given)."""
    eligible, extra = _eligible(terms)
    with _read(store, snapshot=False) as conn:
        return conn.execute(
            f"SELECT COUNT(*) FROM paragraphs p WHERE {eligible}", {**_pool_params(pool), **extra}
        ).fetchone()[0]


def pool_ids(
    store: Store,
    pool: Pool,
    *,
    order: str = "document",
    model_version: str | None = None,
    terms: Sequence[str] = (),
    limit: int | None = None,
    offset: int = 0,
    start: float = 0.0,
) -> list[tuple[str, float | None]]:
    """Pool paragraphs as `(paragraph_id, uncertainty)` pairs, in `order`.

    `document`: document order (uncertainty None). `uncertainty`: only paragraphs with cached
    scores of `model_version`, smallest uncertainty first (ties in document order). `shuffled`:
    a fixed pseudo-random order (a hash of the id), starting at `start` in [0, 1) and wrapping
    around — a random `start` gives a random pool paragraph without counting the pool.
    `second`: paragraphs another annotator has answered (not skipped) that still need this
    annotator's independent answer (the overlap share), oldest first answer first.
    `terms`: only paragraphs whose search form contains one of them (a pre-filter: a strategy
    checks word boundaries itself).
    """
    eligible, extra = _eligible(terms)
    params = {**_pool_params(pool), **extra, "limit": NO_LIMIT if limit is None else limit, "offset": offset}
    with _read(store, snapshot=False) as conn:
        if order == "shuffled":
            query = f"""SELECT p.paragraph_id, NULL FROM paragraphs p
                WHERE p.shuffle_key {{op}} :start AND {eligible}
                ORDER BY p.shuffle_key LIMIT :limit OFFSET :offset"""
            rows = conn.execute(query.format(op=">="), {**params, "start": start}).fetchall()
            if limit is None or len(rows) < limit:
                rest = NO_LIMIT if limit is None else limit - len(rows)
                rows += conn.execute(
                    query.format(op="<"), {**params, "start": start, "limit": rest, "offset": 0}
                ).fetchall()
        elif order == "document":
            rows = conn.execute(
                f"""SELECT p.paragraph_id, NULL FROM paragraphs p WHERE {eligible}
                ORDER BY p.seq LIMIT :limit OFFSET :offset""",
                params,
            ).fetchall()
        elif order == "uncertainty":
            if model_version is None:
                raise StoreError("order='uncertainty' needs the model_version whose scores to use")
            rows = conn.execute(
                f"""SELECT p.paragraph_id, s.uncertainty FROM scores s
                JOIN paragraphs p ON p.paragraph_id = s.paragraph_id
                WHERE s.model_version = :model_version AND {eligible}
                ORDER BY s.uncertainty, p.seq LIMIT :limit OFFSET :offset""",
                {**params, "model_version": model_version},
            ).fetchall()
        elif order == "second":
            rows = conn.execute(
                f"""SELECT p.paragraph_id, NULL FROM paragraphs p
                JOIN (SELECT paragraph_id, MIN(created_at) AS first FROM annotations
                      WHERE answer != 'skip' AND annotator != :annotator GROUP BY paragraph_id) a
                  ON a.paragraph_id = p.paragraph_id
                WHERE {eligible} ORDER BY a.first, p.seq LIMIT :limit OFFSET :offset""",
                params,
            ).fetchall()
        else:
            raise StoreError(
                f"unknown pool order {order!r}; expected document, uncertainty, shuffled or second"
            )
    return [(pid, u) for pid, u in rows]


def pool_filter(store: Store, pool: Pool, paragraph_ids: Sequence[str]) -> list[str]:
    """The ids (in the given order) that are in the pool."""
    params = _pool_params(pool)
    keep: set[str] = set()
    with _read(store, snapshot=False) as conn:
        for chunk in _chunks(list(paragraph_ids)):
            marks = ",".join(f":id{i}" for i in range(len(chunk)))
            keep.update(
                r[0]
                for r in conn.execute(
                    f"SELECT p.paragraph_id FROM paragraphs p WHERE p.paragraph_id IN ({marks}) AND {_ELIGIBLE}",
                    {**params, **{f"id{i}": pid for i, pid in enumerate(chunk)}},
                )
            )
    return [pid for pid in paragraph_ids if pid in keep]


# One conditional statement takes a queue claim: the row is inserted only if the paragraph is
# in the pool, and an existing claim on it is taken over only if it is the annotator's own or
# expired. Two sessions racing for one paragraph: the partial unique index makes the second
# wait for the first, then its WHERE fails and it gets no row back — on SQLite and PostgreSQL.
_CLAIM = f"""INSERT INTO claims (paragraph_id, annotator, token, expires_at, kind)
    SELECT :pid, :annotator, :token, :expires, 'queue' FROM paragraphs p
    WHERE p.paragraph_id = :pid AND {_ELIGIBLE}
    ON CONFLICT (paragraph_id) WHERE kind = 'queue' DO UPDATE SET annotator = excluded.annotator,
        token = excluded.token, expires_at = excluded.expires_at
    WHERE claims.annotator = excluded.annotator OR claims.expires_at <= :now
    RETURNING paragraph_id, annotator, token, expires_at"""


@retrying
def claim_paragraph(
    store: Store, pool: Pool, paragraph_id: str, *, seconds: float = DEFAULT_CLAIM_SECONDS
) -> Claim | None:
    """Atomically claim a pool paragraph for the pool's annotator; None if it left the pool.

    None means another session claimed or answered it meanwhile. An annotator holds one claim
    at a time: claiming replaces their previous one. Expired claims are swept. The claim's
    token must come back with the answer (`record_answer(token=)`), which ends the claim.
    """
    params = _pool_params(pool)
    with _write(store) as conn:
        # Sweep expired claims and end the annotator's previous one, in one statement.
        conn.execute("DELETE FROM claims WHERE expires_at <= ? OR annotator = ?", (params["now"], pool.annotator))
        values = {**params, "pid": paragraph_id, "token": secrets.token_urlsafe(12), "expires": _in(seconds)}
        rows = conn.execute(_CLAIM, values).fetchall()
        if rows and store.dialect == "postgresql":
            # READ COMMITTED: the INSERT's eligibility test ran on the snapshot from before it
            # waited for a racing session's lock; test again now that session has committed (an
            # answer it just saved must not hand the paragraph to a second annotator).
            still = conn.execute(f"SELECT 1 FROM paragraphs p WHERE p.paragraph_id = :pid AND {_ELIGIBLE}", values)
            if still.fetchone() is None:
                conn.execute("DELETE FROM claims WHERE paragraph_id = ? AND annotator = ?", (paragraph_id, pool.annotator))
                return None
    return Claim(*rows[0]) if rows else None


@retrying
def claim_for_revision(
    store: Store, annotator: str, paragraph_id: str, *, seconds: float = DEFAULT_CLAIM_SECONDS
) -> Claim:
    """Claim a paragraph the annotator has already answered, to change that answer (Back).

    A revision claim does not take the paragraph off other annotators' queues' claims."""
    annotator = _check_name(annotator, what="annotator")
    with _write(store) as conn:
        answered = conn.execute(
            "SELECT 1 FROM annotations WHERE paragraph_id = ? AND annotator = ? LIMIT 1",
            (paragraph_id, annotator),
        ).fetchone()
        if answered is None:
            raise StoreError(
                f"{annotator!r} has no answer on paragraph {paragraph_id} to change; "
                f"label it from the queue instead"
            )
        # One claim per annotator: this one ends the previous (its token no longer saves anything).
        conn.execute("DELETE FROM claims WHERE annotator = ?", (annotator,))
        claim = Claim(paragraph_id, annotator, secrets.token_urlsafe(12), _in(seconds))
        conn.execute(
            "INSERT INTO claims (paragraph_id, annotator, token, expires_at, kind) VALUES (?, ?, ?, ?, 'revision')",
            (claim.paragraph_id, claim.annotator, claim.token, claim.expires_at),
        )
    return claim


def current_claim(store: Store, annotator: str) -> Claim | None:
    """The annotator's claim (possibly expired but not yet swept), or None."""
    with _read(store, snapshot=False) as conn:
        row = conn.execute(
            "SELECT paragraph_id, annotator, token, expires_at FROM claims WHERE annotator = ?", (annotator,)
        ).fetchone()
    return Claim(*row) if row else None


def release_claims(store: Store, *, annotator: str, paragraph_id: str | None = None) -> int:
    """Drop an annotator's claims (on one paragraph, or all); returns how many were dropped."""
    with _write(store) as conn:
        if paragraph_id is None:
            cursor = conn.execute("DELETE FROM claims WHERE annotator = ?", (annotator,))
        else:
            cursor = conn.execute(
                "DELETE FROM claims WHERE annotator = ? AND paragraph_id = ?", (annotator, paragraph_id)
            )
    return cursor.rowcount


def active_claims(store: Store) -> dict[str, tuple[str, str]]:
    """Unexpired claims: `{paragraph_id: (annotator, expires_at)}`."""
    with _read(store, snapshot=False) as conn:
        rows = conn.execute(
            "SELECT paragraph_id, annotator, expires_at FROM claims WHERE expires_at > ?", (_now(),)
        ).fetchall()
    return {pid: (annotator, expires) for pid, annotator, expires in rows}


class PoolView:
    """One annotator's pool as a query strategy sees it: ordered walks and a membership test.

    Strategies get this instead of the store, so they never touch SQL; another backend only
    has to provide the same three methods.
    """

    def __init__(self, store: Store, pool: Pool) -> None:
        self._store = store
        self.pool = pool

    @property
    def annotator(self) -> str:
        return self.pool.annotator

    def walk(self, order: str, *, limit: int, start: float = 0.0, terms: Sequence[str] = (),
             model_version: str | None = None, offset: int = 0) -> list[tuple[str, float | None]]:
        """`pool_ids()` of this pool."""
        return pool_ids(self._store, self.pool, order=order, limit=limit, start=start, terms=terms,
                        model_version=model_version, offset=offset)

    def keep(self, paragraph_ids: Sequence[str]) -> list[str]:
        """The ids (in the given order) still in the pool."""
        return pool_filter(self._store, self.pool, paragraph_ids)

    def texts(self, paragraph_ids: Sequence[str]) -> dict[str, str]:
        """The texts of some pool paragraphs (for a strategy's own text test)."""
        return {pid: p.text for pid, p in get_paragraphs(self._store, paragraph_ids).items()}
