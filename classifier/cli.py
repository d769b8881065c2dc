"""The `pmc` command line: thin click commands over library functions that return data.

Each command parses options, calls one function of the library, and formats what it returns.
Library errors (`PmcError`) become one line on stderr and the error's exit code; no traceback.

Exit codes: 0 success; 1 unexpected error; 2 usage error; 3 codebook (taxonomy) error;
4 input error (missing, binary, undecodable or oversized file); 5 labelled-data error;
6 model error (missing, tampered, incompatible); 7 store error; 10 finished, but some input
records were skipped (each reported on stderr with file and line).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .errors import PmcError

__all__ = ["cli", "main", "EXIT_SKIPPED"]

EXIT_SKIPPED = 10


class _Group(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)  # definition order, most used first


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="policy-measure-classifier", prog_name="pmc")
def cli() -> None:
    """pmc — code documents paragraph by paragraph into policy measures.

    \b
    Example:
      pmc segment seeds/001_4fc425b8d83a2046.txt | head
      pmc labels check
    """


@cli.command("segment")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def segment_cmd(paths: tuple[Path, ...]) -> None:
    """Split documents into paragraphs and print them as JSONL.

    \b
    Example:
      pmc segment seeds/003_068763a167a86ed9.txt
    """
    from .reader import read_document
    from .segmenter import segment

    for path in paths:
        for paragraph in segment(read_document(path)):
            click.echo(json.dumps(paragraph.to_record(), ensure_ascii=False))


@cli.group("labels")
def labels_group() -> None:
    """Check, sync, export and import labelled data."""


@labels_group.command("check")
@click.option("--gold", type=click.Path(path_type=Path), default=None, help="Gold JSONL (default labels/gold.jsonl).")
@click.option("--seeds", type=click.Path(path_type=Path), default=None, help="Seed documents folder (default seeds/).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def labels_check_cmd(gold: Path | None, seeds: Path | None, as_json: bool) -> None:
    """Validate the gold labels: unknown ids, duplicates, missing seed paragraphs, counts.

    Exits 5 when a problem is found.

    \b
    Example:
      pmc labels check
      pmc labels check --gold my_gold.jsonl --json
    """
    from .labelled_data import check_gold

    report = check_gold(gold, seeds_dir=seeds)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(f"{report.path}: {report.records} records ({_fmt_counts(report.by_source)})")
        click.echo(_counts_table(report.counts))
        for problem in report.problems:
            click.echo(f"problem: {problem}", err=True)
        click.echo("ok" if report.ok else f"{len(report.problems)} problem(s)")
    if not report.ok:
        sys.exit(5)


@labels_group.command("sync-codebook")
@click.option("--gold", type=click.Path(path_type=Path), default=None, help="Gold JSONL (default labels/gold.jsonl).")
def labels_sync_cmd(gold: Path | None) -> None:
    """Rewrite the codebook examples in the gold file from labels/taxonomy.toml.

    Seed and annotated records are kept as they are.

    \b
    Example:
      pmc labels sync-codebook
    """
    from .labelled_data import default_gold_path, load_labelled, replace_codebook_records, write_labelled

    path = gold or default_gold_path()
    rows = load_labelled(path) if Path(path).exists() else []
    count = write_labelled(replace_codebook_records(rows), path)
    click.echo(f"{path}: {count} records")


def _fmt_counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))


def _counts_table(counts: dict[str, dict[str, int]]) -> str:
    from .taxonomy import load_taxonomy

    columns = ["paragraphs", *load_taxonomy().label_ids, "none"]
    width = max(len(c) for c in columns)
    lines = [f"{'label':<{width}}  " + "  ".join(f"{lang:>8}" for lang in counts)]
    for column in columns:
        lines.append(
            f"{column:<{width}}  " + "  ".join(f"{counts[lang].get(column, 0):>8}" for lang in counts)
        )
    return "\n".join(lines)


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


if __name__ == "__main__":
    main()
