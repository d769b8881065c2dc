"""Shared fixtures: paths of the project's data files and of the shared development set."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
DEVSET = ROOT.parent / "shared" / "devset" / "dev.jsonl"


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    return SEEDS
