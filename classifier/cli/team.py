"""Team commands: `pmc users` (who may do what) and `pmc db` (set up, inspect and move a store).

Each command is a few lines over `store.users`, `store.postgres.init_database` and
`store.transfer.copy_store`. User management acts as `PMC_USER` (else the login name), which
must be an admin of the store once it has users.
"""

from __future__ import annotations

import json

import click

from . import cli
from .options import STORE, actor

_DB_HELP = "Annotation store: a path (SQLite) or postgresql://user:pass@host:port/db (default PMC_DB)."


@cli.group("users")
def users_group() -> None:
    """Manage who may label, review and administer a store (roles: annotator, reviewer, admin)."""


@users_group.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["annotator", "reviewer", "admin"]), required=True)
@click.option("--display-name", default="", help="A name to show instead of NAME.")
@click.option("--db", type=STORE, default=None, help=_DB_HELP)
def users_add_cmd(name: str, role: str, display_name: str, db: object) -> None:
    """Register a user. The first user of a store must be an admin.

    NAME is what the sign-in gives: the e-mail (OIDC, proxy header) or the typed name.

    \b
    Example:
      pmc users add lead@example.org --role admin --db postgresql://pmc@db.internal/pmc
      PMC_USER=lead@example.org pmc users add wang.li@example.org --role annotator
    """
    from ..store import open_store
    from ..store.users import add_user

    with open_store(db) as store:
        user = add_user(store, name, role=role, display_name=display_name, by=actor())
    click.echo(f"added {user.name} ({user.role})")


@users_group.command("list")
@click.option("--db", type=STORE, default=None, help=_DB_HELP)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per user.")
def users_list_cmd(db: object, as_json: bool) -> None:
    """List the users of a store with their roles.

    \b
    Example:
      pmc users list --db team.sqlite
    """
    from ..store import open_store
    from ..store.users import list_users

    with open_store(db, create=False) as store:
        users = list_users(store)
    for user in users:
        if as_json:
            click.echo(json.dumps({"name": user.name, "role": user.role, "display_name": user.display_name,
                                   "disabled": user.disabled}, ensure_ascii=False))
        else:
            state = "\tdisabled" if user.disabled else ""
            click.echo(f"{user.name}\t{user.role}{state}")
    if not users and not as_json:
        click.echo("no users: this store is one trusted machine (anyone typing a name may do everything)", err=True)


@users_group.command("set-role")
@click.argument("name")
@click.argument("role", type=click.Choice(["annotator", "reviewer", "admin"]))
@click.option("--db", type=STORE, default=None, help=_DB_HELP)
def users_set_role_cmd(name: str, role: str, db: object) -> None:
    """Change a user's role (as an admin).

    \b
    Example:
      pmc users set-role wang.li@example.org reviewer
    """
    from ..store import open_store
    from ..store.users import set_role

    with open_store(db, create=False) as store:
        user = set_role(store, name, role, by=actor())
    click.echo(f"{user.name} is now {user.role}")


def _set_disabled(name: str, db: object, disabled: bool) -> None:
    from ..store import open_store
    from ..store.users import set_disabled

    with open_store(db, create=False) as store:
        user = set_disabled(store, name, disabled, by=actor())
    click.echo(f"{user.name} is {'disabled' if disabled else 'enabled'}")


@users_group.command("disable")
@click.argument("name")
@click.option("--db", type=STORE, default=None, help=_DB_HELP)
def users_disable_cmd(name: str, db: object) -> None:
    """Disable a user: they can no longer sign in; their answers stay.

    \b
    Example:
      pmc users disable former@example.org
    """
    _set_disabled(name, db, True)


@users_group.command("enable")
@click.argument("name")
@click.option("--db", type=STORE, default=None, help=_DB_HELP)
def users_enable_cmd(name: str, db: object) -> None:
    """Enable a disabled user again.

    \b
    Example:
      pmc users enable former@example.org
    """
    _set_disabled(name, db, False)


@cli.group("db")
def db_group() -> None:
    """Set up a team store on PostgreSQL, inspect a store, or move one between backends."""


@db_group.command("init")
@click.argument("url")
@click.option("--owner", default=None, help="Create the tables as this role (SET ROLE; connect as a superuser).")
@click.option("--app-role", default=None, help="Grant this role what the app needs, and no UPDATE/DELETE/TRUNCATE "
                                               "on answers and gold.")
def db_init_cmd(url: str, owner: str | None, app_role: str | None) -> None:
    """Create the pmc schema in a PostgreSQL database and grant the app's role.

    \b
    Example:
      pmc db init postgresql://postgres@db.internal/pmc --owner pmc_owner --app-role pmc_app
    """
    from ..errors import StoreError
    from ..store.postgres import init_database, is_url

    if not is_url(url):
        raise StoreError(f"{url} is not a postgresql:// URL; an SQLite store needs no init (it is created on use)")
    result = init_database(url, owner=owner, app_role=app_role)
    click.echo(f"{result['store']}: schema version {result['version']}, tables owned by {result['owner']}")
    if app_role:
        click.echo(f"granted {app_role}: SELECT, INSERT on annotations, gold, events; read/write on the rest")


@db_group.command("copy")
@click.argument("source", type=STORE)
@click.argument("target", type=STORE)
def db_copy_cmd(source: object, target: object) -> None:
    """Copy every answer, gold decision, document, model and user into an empty store.

    \b
    Example:
      pmc db copy data/pmc.sqlite postgresql://pmc_owner@db.internal/pmc
    """
    from ..store.transfer import copy_store

    result = copy_store(source, target)
    for table, count in result["counts"].items():
        click.echo(f"{table:12} {count:>9}")
    click.echo(f"copied {result['source']} -> {result['target']}; counts checked")


@db_group.command("info")
@click.option("--db", type=STORE, default=None, help=_DB_HELP)
def db_info_cmd(db: object) -> None:
    """Say which backend and schema a store has, and how many rows each table holds.

    \b
    Example:
      pmc db info --db postgresql://pmc_app@db.internal/pmc
    """
    from ..store import open_store
    from ..store.transfer import table_counts

    with open_store(db, create=False) as store:
        click.echo(f"{store.path}: {store.dialect}, schema version {store.schema_version}")
        for table, count in table_counts(store).items():
            click.echo(f"{table:12} {count:>9}")
