"""Numbers and tables as text: the one number formatter and the one Markdown and HTML table writer
that every report, summary and benchmark page uses."""

from __future__ import annotations

import html
import math

MISSING = "—"  # a number that is not there (None, NaN, inf)


def number(x, digits: int = 2, sign: bool = False, thousands: bool = True, missing: str = MISSING) -> str:
    """`x` with `digits` decimals (and a sign, and thousands separators); `missing` for None or NaN."""
    if x is None or (isinstance(x, (int, float)) and not math.isfinite(x)):
        return missing
    spec = f"{'+' if sign else ''}{',' if thousands else ''}.{digits}f"
    return format(x, spec)


def markdown_table(header: list, rows: list[list]) -> str:
    """A GitHub Markdown table (a '|' inside a cell becomes '/'), ending with a newline."""

    def line(cells):
        return "| " + " | ".join(str(c).replace("|", "/") for c in cells) + " |"

    return "\n".join([line(header), "|" + "---|" * len(header), *(line(r) for r in rows)]) + "\n"


def html_table(header: list, rows: list[list], cls: str = "", escape: bool = True, widths: dict | None = None) -> str:
    """An HTML table; the first column is text (class 'l'), the others numbers (class 'num').
    `escape=False` for cells that already hold HTML; `widths`: {column index: CSS width}."""
    esc = html.escape if escape else str
    widths = widths or {}
    head = "".join(
        f"<th style='width:{widths[i]}'>{esc(str(c))}</th>" if i in widths else f"<th>{esc(str(c))}</th>"
        for i, c in enumerate(header)
    )
    body = "".join(
        "<tr>" + "".join(f"<td class='{'num' if i else 'l'}'>{esc(str(c))}</td>" for i, c in enumerate(r)) + "</tr>"
        for r in rows
    )
    attr = f" class='{cls}'" if cls else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
