"""Who may do what: users and their roles, the permission rule, and the log of team actions.

Roles are ordered: an `annotator` labels; a `reviewer` also adjudicates and sees everyone's
answers; an `admin` also retrains, promotes, rolls back, uploads and manages users. The users
table lives in the store, so every machine of a team sees the same roles.

A store with no users is one trusted machine (today's typed-name mode): every name may do
everything. Once a user is added, every action is checked here — `authorize()` is called by
the library functions themselves (`record_answer`, `set_gold`, retrain, promote, upload, user
management), so hiding a widget is never the only guard. `SYSTEM` is pmc acting on its own
(first-start seeding), never a person. `events` is append-only: who retrained, promoted,
rolled back, uploaded or changed a user, and when.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import AccessError, StoreError
from .connection import Store, _json, _now, _read, _write

__all__ = ["ROLES", "ACTIONS", "SYSTEM", "User", "add_user", "get_user", "list_users", "set_role", "set_disabled",
           "has_users", "sign_in", "authorize", "record_event", "events"]

ROLES = ("annotator", "reviewer", "admin")
# The least role each action needs.
ACTIONS: Mapping[str, str] = {
    "label": "annotator",
    "review": "reviewer",  # adjudicate; see every annotator's answers
    "admin": "admin",  # retrain, promote, roll back, upload, manage users
}
_WHAT = {"label": "label paragraphs", "review": "adjudicate or see others' answers",
         "admin": "retrain, promote, roll back, upload or manage users"}
SYSTEM = "pmc"  # pmc itself (first-start seeding and training)
_NAME = re.compile(r"[^\s\x00-\x1f][^\x00-\x1f]{0,199}")


@dataclass(frozen=True)
class User:
    """A signed-in person. `registered` is False on a store with no users (one trusted machine)."""

    name: str
    role: str
    display_name: str = ""
    disabled: bool = False
    registered: bool = True

    def can(self, action: str) -> bool:
        return not self.disabled and ROLES.index(self.role) >= ROLES.index(ACTIONS[action])


def _user(row: tuple) -> User:
    return User(name=row[0], role=row[1], display_name=row[2], disabled=bool(row[3]))


def _check(name: str, role: str | None = None) -> str:
    name = (name or "").strip()
    if not _NAME.fullmatch(name):
        raise StoreError(f"user name {name!r} is empty or has control characters; use e.g. an e-mail address")
    if role is not None and role not in ROLES:
        raise StoreError(f"role {role!r} is not one of {', '.join(ROLES)}")
    return name


def has_users(store: Store) -> bool:
    """True once any user is registered: from then on every action is checked."""
    with _read(store) as conn:
        return conn.execute("SELECT 1 FROM users LIMIT 1").fetchone() is not None


def get_user(store: Store, name: str) -> User | None:
    with _read(store) as conn:
        row = conn.execute("SELECT name, role, display_name, disabled FROM users WHERE name = ?",
                           (name.strip(),)).fetchone()
    return _user(row) if row else None


def list_users(store: Store) -> list[User]:
    """Every registered user, by name."""
    with _read(store) as conn:
        rows = conn.execute("SELECT name, role, display_name, disabled FROM users ORDER BY name").fetchall()
    return [_user(row) for row in rows]


def sign_in(store: Store, name: str) -> User:
    """The user behind a signed-in identity (or a typed name), or `AccessError` saying why not.

    On a store with no users, anyone is an admin of their own machine (`registered=False`)."""
    name = (name or "").strip()
    if not name:
        raise AccessError("not signed in; sign in to see and label paragraphs")
    if not has_users(store):
        return User(name=name, role="admin", registered=False)
    user = get_user(store, name)
    if user is None:
        raise AccessError(f"{name} is not a user of this pmc store; ask an admin to run "
                          f"`pmc users add {name} --role annotator`")
    if user.disabled:
        raise AccessError(f"{name} is disabled on this pmc store; ask an admin to enable the account")
    return user


def _authorize(conn: Any, actor: str, action: str) -> None:
    """Refuse `action` by `actor` inside an open transaction (see `authorize`)."""
    if actor == SYSTEM:
        return
    # One round trip: are there users at all, and who is this one.
    any_user, role, disabled = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM users), (SELECT role FROM users WHERE name = ?), "
        "(SELECT disabled FROM users WHERE name = ?)", (actor, actor)).fetchone()
    if not any_user:
        return
    if role is None:
        raise AccessError(f"{actor} is not a user of this pmc store and may not {_WHAT[action]}; "
                          f"ask an admin to run `pmc users add {actor} --role {ACTIONS[action]}`")
    user = User(actor, role, disabled=bool(disabled))
    if user.disabled:
        raise AccessError(f"{actor} is disabled on this pmc store and may not {_WHAT[action]}")
    if not user.can(action):
        raise AccessError(f"{actor} is {'an' if user.role[0] in 'aeiou' else 'a'} {user.role} and may not "
                          f"{_WHAT[action]}; that needs the {ACTIONS[action]} role (`pmc users set-role`)")


def authorize(store: Store, actor: str, action: str) -> None:
    """Raise `AccessError` unless `actor` may do `action` (`label`, `review` or `admin`)."""
    if action not in ACTIONS:
        raise StoreError(f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}")
    with _read(store) as conn:
        _authorize(conn, (actor or "").strip(), action)


def add_user(store: Store, name: str, *, role: str, display_name: str = "", by: str) -> User:
    """Register a user (the first one may be added by anyone: it is how a team store starts;
    its role must then be admin, so someone can manage the others)."""
    name = _check(name, role)
    with _write(store) as conn:
        first = conn.execute("SELECT 1 FROM users LIMIT 1").fetchone() is None
        if first and role != "admin":
            raise AccessError(f"the first user of a store must be an admin (adding {name} as {role}); "
                              f"add yourself first: `pmc users add NAME --role admin`")
        if not first:
            _authorize(conn, by, "admin")
        if conn.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
            raise StoreError(f"{name} is already a user; change the role with `pmc users set-role`")
        now = _now()
        conn.execute("INSERT INTO users (name, role, display_name, disabled, created_at, updated_at) "
                     "VALUES (?, ?, ?, 0, ?, ?)", (name, role, display_name, now, now))
        _event(conn, by or name, "user.add", name, {"role": role})
    return User(name, role, display_name)


def _change(store: Store, name: str, *, by: str, column: str, value: Any, action: str) -> User:
    name = _check(name)
    with _write(store) as conn:
        _authorize(conn, by, "admin")
        row = conn.execute("SELECT name, role, display_name, disabled FROM users WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise StoreError(f"{name} is not a user; see `pmc users list`")
        conn.execute(f"UPDATE users SET {column} = ?, updated_at = ? WHERE name = ?", (value, _now(), name))
        admins = conn.execute("SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0").fetchone()[0]
        if admins == 0:
            raise AccessError(f"{name} is the last enabled admin; make someone else admin first")
        _event(conn, by, action, name, {column: value})
        row = conn.execute("SELECT name, role, display_name, disabled FROM users WHERE name = ?", (name,)).fetchone()
    return _user(row)


def set_role(store: Store, name: str, role: str, *, by: str) -> User:
    _check(name, role)
    return _change(store, name, by=by, column="role", value=role, action="user.set-role")


def set_disabled(store: Store, name: str, disabled: bool, *, by: str) -> User:
    return _change(store, name, by=by, column="disabled", value=int(disabled),
                   action="user.disable" if disabled else "user.enable")


def _event(conn: Any, actor: str, action: str, subject: str, detail: Mapping[str, Any]) -> None:
    conn.execute("INSERT INTO events (actor, action, subject, detail, created_at) VALUES (?, ?, ?, ?, ?)",
                 (actor, action, subject, _json(dict(detail)), _now()))


def record_event(store: Store, actor: str, action: str, subject: str = "", detail: Mapping[str, Any] | None = None,
                 *, requires: str | None = None) -> None:
    """Log a team action (retrain, promote, rollback, upload); with `requires`, check the actor
    may do it in the same transaction."""
    with _write(store) as conn:
        if requires is not None:
            _authorize(conn, actor, requires)
        _event(conn, actor, action, subject, detail or {})


def events(store: Store, *, limit: int = 200) -> list[dict[str, Any]]:
    """The latest team actions, newest first."""
    with _read(store) as conn:
        rows = conn.execute("SELECT id, actor, action, subject, detail, created_at FROM events "
                            "ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
    return [{"id": r[0], "actor": r[1], "action": r[2], "subject": r[3], "detail": json.loads(r[4]),
             "created_at": r[5]} for r in rows]
