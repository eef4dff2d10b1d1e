"""How listing commands print: a table for people (tabulate), or JSON, CSV or
newline-delimited JSON for programs, chosen by `--json`, `--csv` or `--nl` as in
sqlite-utils. Every format carries the same rows; the table shows the columns a command
names, the others carry every field."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import click
from tabulate import tabulate

F = TypeVar("F", bound=Callable[..., Any])

TABLE, JSON, CSV, NL = "table", "json", "csv", "nl"


def format_options(command: F) -> F:
    """`--json`, `--csv` and `--nl` (one of them; a table without), as `fmt`."""
    for flag, value, what in reversed((
        ("--json", JSON, "a JSON array"),
        ("--csv", CSV, "CSV with a header row"),
        ("--nl", NL, "newline-delimited JSON, one object per line"),
    )):
        command = click.option(flag, "fmt", flag_value=value, help=f"Print {what}.")(command)
    return click.option("--table", "fmt", flag_value=TABLE, default=True, hidden=True)(command)


def emit(rows: Sequence[Mapping[str, Any]], fmt: str,
         columns: Sequence[tuple[str, str]] | None = None) -> None:
    """Print `rows` in `fmt`. `columns` (field, heading) are the table's; JSON, CSV and
    NL carry every field (CSV writes a list or a mapping as JSON text)."""
    if fmt == JSON:
        click.echo(json.dumps(list(rows), indent=2, ensure_ascii=False))
    elif fmt == NL:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
    elif fmt == CSV:
        buffer = io.StringIO()
        fields = list(rows[0]) if rows else [field for field, _ in columns or ()]
        writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(v) for k, v in row.items()})
        click.echo(buffer.getvalue(), nl=False)
    else:
        columns = columns or [(field, field) for field in (rows[0] if rows else ())]
        # Numbers to the right; text as it is (no number parsing: an id "007" stays so).
        align = ["right" if rows and all(isinstance(row.get(field), (int, float))
                                         and not isinstance(row.get(field), bool)
                                         for row in rows) else "left"
                 for field, _ in columns]
        click.echo(tabulate(
            [[_shown(row.get(field)) for field, _ in columns] for row in rows],
            headers=[heading for _, heading in columns], tablefmt="simple",
            disable_numparse=True, colalign=align))


def _cell(value: Any) -> Any:
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, ensure_ascii=False)
    return value


def _shown(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)
