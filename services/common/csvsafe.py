"""CSV that is safe to open in a spreadsheet.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is
read by Excel, LibreOffice and Google Sheets as a formula, so a partner named
``=HYPERLINK("http://…")`` would become a live link (or worse) on the desk of
whoever opens an export. Every CSV Trellis writes goes through ``csv_bytes``,
which prefixes such a cell with ``'`` (OWASP's advice): the spreadsheet shows the
text as written and runs nothing. A plain number such as ``-12.50`` is left as it is.
"""

import csv
import io
import re
from collections.abc import Iterable

from fastapi import Response

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def neutralise(cell: str) -> str:
    """``cell`` as a spreadsheet shows it without evaluating it."""
    if cell.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def csv_bytes(rows: Iterable[Iterable[object]]) -> bytes:
    """RFC 4180 CSV (CRLF line ends) of ``rows``, every cell neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows([neutralise(str(cell)) for cell in row] for row in rows)
    return buffer.getvalue().encode()


def csv_response(rows: Iterable[Iterable[object]], filename: str) -> Response:
    """A CSV download of ``rows`` (the header first) as an attachment named ``filename``."""
    return Response(
        csv_bytes(("" if cell is None else cell for cell in row) for row in rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
