"""The model registry: saving, listing, activating and loading model versions.

Each version is a folder under the registry directory (`data/models/` by default) holding the
serving form (`serving.npz` + `serving.json`: arrays and JSON, see `serving`), `model.joblib`
(the fitted scikit-learn estimator, kept as an artifact for notebooks; pmc itself never
unpickles it) and `card.json` (label ids, taxonomy hash, training-data hash and size, label
counts, library versions, thresholds, metrics, creation time, and the SHA-256 of every file).
`load_serving()` opens only folders of a registry, checks every file's SHA-256 against the card
(corruption, not authenticity: whoever can write the folder can rewrite the card) and refuses a
model trained with a different codebook. `load_version()` is the same with a per-process cache
of loaded versions. The `ACTIVE` file is the one record of which version is active. Saving is
atomic: the version is written to a temporary folder and renamed into place, and `ACTIVE` is
replaced with `os.replace`, so a crash never leaves a half-written model active.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import ModelError
from ..labels.taxonomy import Taxonomy, load_taxonomy, taxonomy_hash
from ..paths import STALE_SECONDS, fsync_directory, models_dir, sweep_stale
from .serving import SERVING_FILES, ServingModel

__all__ = [
    "ship_version",
    "install_shipped",
    "SavedModel",
    "save_model",
    "load_serving",
    "load_version",
    "forget_version",
    "list_models",
    "active_version",
    "set_active",
    "resolve_model_dir",
    "registry_root",
    "sweep_staging",
    "file_sha256",
]

_MODEL_FILE = "model.joblib"
_CARD_FILE = "card.json"
_ACTIVE_FILE = "ACTIVE"
_MARKER_FILE = ".pmc-registry"  # written by save_model: only such folders hold loadable models


@dataclass(frozen=True)
class SavedModel:
    """A loaded serving model with its card and where it came from."""

    model: Any
    card: dict[str, Any]
    path: Path

    @property
    def version(self) -> str:
        return self.path.name

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.card["labels"])

    def thresholds(self, *, threshold_scale: float = 1.0) -> dict[str, float]:
        """The effective (scaled, capped) threshold of each label."""
        values = self.model.effective_thresholds(threshold_scale=threshold_scale)
        return {label: float(t) for label, t in zip(self.labels, values)}


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {"python": platform.python_version()}
    for package in ("scikit-learn", "joblib", "jieba", "rjieba", "numpy", "opencc", "pyahocorasick"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:  # optional (rjieba): absence is recorded as absence
            pass
    return versions


def _registry(registry: Path | str | None) -> Path:
    return Path(registry) if registry is not None else models_dir()


def registry_root(registry: Path | str | None = None) -> Path:
    """The registry folder (default `models_dir()`), resolved."""
    return _registry(registry).resolve()


_VERSION_NAME = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,99}")


def _check_version_name(version: str) -> str:
    if not isinstance(version, str) or not _VERSION_NAME.fullmatch(version) or ".." in version:
        raise ModelError(
            f"{version!r} is not a model version name (letters, digits, '.', '_', '-'); "
            f"see `pmc models` for the list"
        )
    return version


def save_model(
    model: Any, card: dict[str, Any], *, registry: Path | None = None, activate: bool = True
) -> Path:
    """Write a new version folder atomically and (by default) make it the active model."""
    import joblib

    root = _registry(registry)
    root.mkdir(parents=True, exist_ok=True)
    (root / _MARKER_FILE).touch()
    sweep_staging(registry=root)
    created = datetime.now(timezone.utc)
    version = created.strftime("%Y%m%dT%H%M%S%fZ")
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=root))
    os.chmod(staging, 0o755)  # mkdtemp's 0700 would make the version unreadable to a team's other users
    try:
        model_path = staging / _MODEL_FILE
        joblib.dump(model, model_path, compress=3)
        if hasattr(model, "vectorizer_"):
            ServingModel.from_classifier(model).save(staging)
        files = sorted(p.name for p in staging.iterdir())
        full_card = {
            **card,
            "version": version,
            "created": created.isoformat(),
            "libraries": _library_versions(),
            "sha256": file_sha256(model_path),
            "files": {name: file_sha256(staging / name) for name in files},
        }
        (staging / _CARD_FILE).write_text(json.dumps(full_card, ensure_ascii=False, indent=2), encoding="utf-8")
        for item in staging.iterdir():  # the files' bytes reach the disk before the folder is renamed
            with item.open("rb") as handle:
                os.fsync(handle.fileno())
        final = root / version
        os.replace(staging, final)
        fsync_directory(root)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise ModelError(f"{root}: cannot save the model version ({exc.strerror}); free disk space or pass another "
                         f"--out; the active model is unchanged") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if activate:
        set_active(version, registry=root)
    return final


def ship_version(version: str | None = None, *, registry: Path | str | None = None, dest: Path | str) -> Path:
    """Copy a version's serving form (rewritten in the current format) and card (no pickle) to
    `dest`, e.g. `models/shipped/`.

    The repository ships the default model this way, so a fresh clone's first start loads it
    instead of fitting one (`install_shipped`).
    """
    folder = resolve_model_dir(version, registry=registry)
    card = _read_card(folder)
    for name in SERVING_FILES:
        _verify(folder, name, card.get("files", {}).get(name))
    target = Path(dest)
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    # Written anew in the current serving format (`serving.FORMAT`), so a version saved by an
    # older pmc ships with the lookup arrays that make a cold start fast; the numbers are the same.
    ServingModel.load(folder).save(target)
    files = {name: file_sha256(target / name) for name in SERVING_FILES}
    shipped = {**card, "files": files, "shipped": True}
    shipped.pop("sha256", None)  # the pickle's hash: the pickle is not shipped
    (target / _CARD_FILE).write_text(json.dumps(shipped, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return target


def install_shipped(source: Path | str, *, registry: Path | str | None = None) -> str:
    """Add a shipped model (`ship_version`'s folder) to the registry as a version and activate it.

    Its serving files are checked against its card before and after the copy.
    """
    source = Path(source)
    card = _read_card(source)
    version = _check_version_name(str(card.get("version", "")))
    for name in SERVING_FILES:
        _verify(source, name, card.get("files", {}).get(name))
    root = _registry(registry)
    root.mkdir(parents=True, exist_ok=True)
    (root / _MARKER_FILE).touch()
    final = root / version
    if not final.exists():
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=root))
        os.chmod(staging, 0o755)
        for name in (*SERVING_FILES, _CARD_FILE):
            shutil.copyfile(source / name, staging / name)
        os.replace(staging, final)
        fsync_directory(root)
    else:
        # Installed before: perhaps in an older serving format (the same version, re-shipped in
        # a newer one, has other file hashes). Its files must match its own card.
        card = _read_card(final)
    for name in SERVING_FILES:
        _verify(final, name, card.get("files", {}).get(name))
    set_active(version, registry=root)
    return version


def sweep_staging(*, registry: Path | str | None = None, older_than: float = STALE_SECONDS) -> list[str]:
    """Remove what killed saves left behind: `.staging-*` folders and `.active-*` files older than
    `older_than` seconds (a save in progress is younger). Returns the names removed."""
    return sweep_stale(_registry(registry), (".staging-*", ".active-*"), older_than=older_than)


def set_active(version: str, *, registry: Path | str | None = None) -> None:
    """Point `ACTIVE` at an existing version (atomic replace)."""
    _check_version_name(version)
    root = _registry(registry)
    if not (root / version / _CARD_FILE).is_file():
        raise ModelError(f"no model version {version!r} in {root}; see `pmc models` for the list")
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".active-")
    with os.fdopen(fd, "w") as handle:
        handle.write(version + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, root / _ACTIVE_FILE)
    fsync_directory(root)


def active_version(*, registry: Path | str | None = None) -> str | None:
    path = _registry(registry) / _ACTIVE_FILE
    try:
        version = path.read_text().strip()
    except OSError:
        return None
    return version or None


def list_models(*, registry: Path | str | None = None) -> list[dict[str, Any]]:
    """Cards of every saved version, newest first, with an `active` flag."""
    root = _registry(registry)
    active = active_version(registry=root)
    cards = []
    for card_path in sorted(root.glob(f"*/{_CARD_FILE}"), reverse=True):
        if card_path.parent.name.startswith("."):
            continue
        try:
            card = json.loads(card_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        card["active"] = card_path.parent.name == active
        card["path"] = str(card_path.parent)
        cards.append(card)
    return cards


def _is_registry(folder: Path) -> bool:
    return (folder / _MARKER_FILE).is_file()


def resolve_model_dir(model: str | Path | None = None, *, registry: Path | str | None = None) -> Path:
    """The version folder to load: `model` is a version name, a version folder or a registry.

    Only folders of a registry (the default one, or one made by `pmc train --out`, marked
    with a `.pmc-registry` file) are accepted: a joblib file runs code when loaded.
    """
    root = _registry(registry).resolve()
    if model is None:
        version = active_version(registry=root)
        if version is None:
            raise ModelError(f"no active model in {root}; train one with `pmc train`")
        return root / version
    candidate = Path(model)
    if candidate.is_dir() and _is_registry(candidate.resolve()):
        version = active_version(registry=candidate)
        if version is None:
            raise ModelError(f"{candidate}: registry has no active model; train one with `pmc train --out {candidate}`")
        return candidate.resolve() / version
    folder = (candidate if candidate.is_dir() else root / str(model)).resolve()
    if folder.parent != root and not _is_registry(folder.parent):
        raise ModelError(
            f"{model}: models are loaded only from a pmc model registry ({root}, or a folder made "
            f"by `pmc train --out`), because a joblib file runs code when loaded"
        )
    if not (folder / _CARD_FILE).is_file():
        raise ModelError(f"{folder}: no model here; pass a version name from `pmc models` or a version folder")
    return folder


def _read_card(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / _CARD_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"{folder / _CARD_FILE}: unreadable model card ({exc}); retrain with `pmc train`") from None


def _verify(folder: Path, name: str, expected: str | None) -> Path:
    path = folder / name
    if not path.is_file():
        raise ModelError(f"{path}: model file missing; retrain with `pmc train`")
    if file_sha256(path) != expected:
        raise ModelError(
            f"{path}: SHA-256 does not match the one recorded at save time; the file was "
            f"modified or corrupted — refusing to load it (retrain with `pmc train`)"
        )
    return path


def _check_codebook(folder: Path, card: dict[str, Any], taxonomy: Taxonomy | None) -> None:
    if taxonomy is None and taxonomy_hash() == card.get("taxonomy_hash"):
        return  # the very codebook the model was trained with (its label ids are the card's): no parse
    taxonomy = taxonomy or load_taxonomy()
    if card.get("taxonomy_hash") != taxonomy.hash:
        raise ModelError(
            f"{folder.name}: trained with codebook {card.get('taxonomy_hash')}, but labels/taxonomy.toml "
            f"is now {taxonomy.hash}; retrain with `pmc train`"
        )
    if tuple(card.get("labels", ())) != taxonomy.label_ids:
        raise ModelError(f"{folder.name}: label ids {card.get('labels')} differ from the codebook's; retrain")


def load_serving(
    model: str | Path | None = None,
    *,
    registry: Path | str | None = None,
    taxonomy: Taxonomy | None = None,
) -> SavedModel:
    """Load the serving form (arrays + JSON, no pickle, no scikit-learn) after the same checks."""
    folder = resolve_model_dir(model, registry=registry)
    card = _read_card(folder)
    recorded = card.get("files", {})
    if not all(name in recorded for name in SERVING_FILES):
        raise ModelError(f"{folder.name}: no serving form in this version; retrain with `pmc train`")
    for name in SERVING_FILES:
        _verify(folder, name, recorded[name])
    _check_codebook(folder, card, taxonomy)
    return SavedModel(ServingModel.load(folder), card, folder)


_LOADED: OrderedDict[tuple[str, str], SavedModel] = OrderedDict()
_LOADED_LOCK = threading.Lock()
_LOADED_KEPT = 4


def load_version(version: str | None = None, *, registry: Path | str | None = None) -> SavedModel:
    """`load_serving()` of a registry version (default the active one), once per process."""
    root = registry_root(registry)
    version = version or active_version(registry=root)
    if version is None:
        raise ModelError(f"no active model in {root}; train one with `pmc train`")
    key = (str(root), _check_version_name(version))
    with _LOADED_LOCK:
        if key in _LOADED:
            _LOADED.move_to_end(key)
            return _LOADED[key]
    saved = load_serving(version, registry=root)
    with _LOADED_LOCK:
        _LOADED[key] = saved
        while len(_LOADED) > _LOADED_KEPT:
            _LOADED.popitem(last=False)
    return saved


def forget_version(version: str, *, registry: Path | str | None = None) -> None:
    """Drop a version from the per-process cache (after it was discarded)."""
    with _LOADED_LOCK:
        _LOADED.pop((str(registry_root(registry)), version), None)
