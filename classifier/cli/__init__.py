"""The `pmc` command line: thin click commands over library functions that return data.

Each command parses options, calls one function of the library, and formats what it returns.
Library errors (`PmcError`) become one line on stderr and the error's exit code; no traceback.

Exit codes: 0 success; 1 unexpected error; 2 usage error; 3 codebook (taxonomy) error;
4 input error (missing, binary, undecodable or oversized file); 5 labelled-data error;
6 model error (missing, tampered, incompatible); 7 store error; 8 nothing left to label;
9 stale answer (not saved); 10 finished, but some input records were skipped (each reported
on stderr with file and line); 11 not allowed (unknown or disabled user, or a role without
the permission).
"""

from __future__ import annotations

import sys

import click

from ..errors import PmcError

__all__ = ["cli", "main", "EXIT_SKIPPED"]

EXIT_SKIPPED = 10


class _Group(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)  # definition order, most used first

    def invoke(self, ctx: click.Context) -> object:
        """Library errors become one line on stderr and their exit code (the edge of the library)."""
        try:
            return super().invoke(ctx)
        except PmcError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="policy-measure-classifier", prog_name="pmc")
def cli() -> None:
    """pmc — code documents paragraph by paragraph into policy measures.

    \b
    Example:
      pmc segment seeds/001_4fc425b8d83a2046.txt | head
      pmc labels check
    """


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the CLI, turning library errors into one-line messages."""
    try:
        code = cli.main(args=argv, prog_name="pmc", standalone_mode=False)
    except PmcError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(0)
    sys.exit(code or 0)


# The commands, one module per kind of work; importing them registers them on `cli`.
from . import documents as _documents  # noqa: E402,F401
from . import models as _models  # noqa: E402,F401
from . import labels as _labels  # noqa: E402,F401
from . import answers as _answers  # noqa: E402,F401
from . import analysis as _analysis  # noqa: E402,F401
from . import team as _team  # noqa: E402,F401
