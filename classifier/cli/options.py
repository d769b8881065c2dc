"""Options shared by the commands: the store (`--db`, a path or a PostgreSQL URL) and who acts.

`STORE` accepts an SQLite file path or a `postgresql://user:pass@host:port/db` URL (kept as
given; a path becomes a `Path`). `actor()` is the person a command acts as when the store has
users: `PMC_USER`, else the login name — on a team store it must be a registered user with the
role the command needs (`store.users`).
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path

import click

from ..paths import is_store_url as is_url

__all__ = ["STORE", "actor"]


class _StoreTarget(click.ParamType):
    name = "PATH|URL"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> Path | str:
        if isinstance(value, Path) or not is_url(str(value)):
            path = Path(str(value))
            if path.is_dir():
                self.fail(f"{path} is a directory; give the store's file (e.g. {path / 'pmc.sqlite'}) "
                          f"or a postgresql:// URL", param, ctx)
            return path
        return str(value)


STORE = _StoreTarget()


def actor() -> str:
    """Who this command acts as: `PMC_USER`, else the login name."""
    name = os.environ.get("PMC_USER", "").strip()
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"
