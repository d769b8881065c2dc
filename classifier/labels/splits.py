"""Leak-free evaluation splits: folds by document and near-duplicate group.

`split_components()` joins every paragraph with the others of its document and of its
duplicate group (union-find), so translations and repeated passages always fall on the same
side of a split. `grouped_kfold()` deals those components into folds of near-equal size,
shuffled by a seed, so repeated cross-validation sees different partitions.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np

__all__ = ["split_components", "grouped_kfold"]


def split_components(docs: Sequence[str], groups: Sequence[str], *more: Sequence[str]) -> list[str]:
    """Component id per paragraph: connected through a shared document or any shared group
    (duplicate group, and e.g. story groups from `leaks.story_groups`)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, doc in enumerate(docs):
        a = find(f"doc:{doc}")
        for k, column in enumerate((groups, *more)):
            if column[i]:
                b = find(f"group{k}:{column[i]}")
                if b != a:
                    parent[b] = a
                a = find(a)
    return [find(f"doc:{doc}") for doc in docs]


def grouped_kfold(groups: Sequence[str], *, n_splits: int = 5, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) index arrays; no group is ever on both sides. Largest groups placed first."""
    members: dict[str, list[int]] = {}
    for index, group in enumerate(groups):
        members.setdefault(group, []).append(index)
    if n_splits < 2 or n_splits > len(members):
        raise ValueError(f"need 2 <= n_splits <= number of groups ({len(members)}), got {n_splits}")
    keys = list(members)
    random.Random(seed).shuffle(keys)
    keys.sort(key=lambda k: -len(members[k]))  # stable: ties keep the shuffled order
    folds: list[list[int]] = [[] for _ in range(n_splits)]
    for key in keys:
        smallest = min(range(n_splits), key=lambda f: (len(folds[f]), f))
        folds[smallest].extend(members[key])
    everything = np.arange(len(groups))
    out = []
    for fold in folds:
        test = np.asarray(sorted(fold), dtype=np.int64)
        out.append((np.setdiff1d(everything, test), test))
    return out
