"""Dataset files: CSV rows, JSON Lines and JSON records that each hold one report in one of
their fields, with the record's other fields kept as labels (title, year …).

Which field holds the report is not named anywhere: it is the field whose filled values are
longest, provided they are as long as a report (`MIN_REPORT_CHARS`). CSV dialects and headers,
and a JSON file written in the other JSON form, are told from the text itself.
"""

from __future__ import annotations

import csv
import io
import json

from rag.errors import RagError
from rag.read.decode import repair, unify_newlines

# a field holds a report when its filled values average at least this many characters: titles,
# dates and URLs are shorter, and even the 摘要 of a county report is longer
MIN_REPORT_CHARS = 200

Record = tuple[int, str, dict[str, str]]  # (record number, report text, other fields)


def _pick_field(rows: list[dict[str, str]], name: str, what: str) -> str:
    """The field whose values are longest in total; its filled values must average
    `MIN_REPORT_CHARS` or more, else the file has no report in it."""
    totals: dict[str, int] = {}
    filled: dict[str, int] = {}
    for row in rows:
        for key, value in row.items():
            n = len(value.strip())
            totals[key] = totals.get(key, 0) + n
            filled[key] = filled.get(key, 0) + (n > 0)
    if not totals or max(totals.values()) == 0:
        raise RagError(f"{name}: no {what} holds text, so there is no report in it")
    best = max(totals, key=lambda k: totals[k])  # first of equals: dicts keep column order
    average = totals[best] // filled[best]
    if average < MIN_REPORT_CHARS:
        raise RagError(
            f"{name}: no {what} holds report text (the longest, {best!r}, averages {average} "
            f"characters; a report needs at least {MIN_REPORT_CHARS})"
        )
    return best


def _clean_field(value: str) -> str:
    return repair(value).strip()


def csv_records(text: str, name: str) -> list[Record]:
    """Rows of a CSV in any dialect; the header is the first row unless that row already holds
    the long text (a file without a header), in which case columns are named column1, column2 …"""
    first_line = text.split("\n", 1)[0][:4096]
    try:
        delimiter = csv.Sniffer().sniff(first_line, delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = ","
    # the default limit (128 Ki characters) is smaller than a long report; only ever raised here
    if csv.field_size_limit() < len(text) + 1:
        csv.field_size_limit(len(text) + 1)
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"', doublequote=True, strict=True
    )
    rows: list[tuple[int, list[str]]] = []  # (first line of the row, cells)
    start = 1
    try:
        for cells in reader:
            if any(c.strip() for c in cells):
                rows.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise RagError(f"{name}: malformed CSV at line {reader.line_num} ({exc})") from exc
    if not rows:
        return []
    width = max(len(cells) for _, cells in rows)
    # which column is long, judged on the rows after the first (the first may be the header)
    body = rows[1:] or rows
    col = max(range(width), key=lambda i: sum(len(c[i].strip()) for _, c in body if i < len(c)))
    header_cells = rows[0][1]
    has_header = not (col < len(header_cells) and len(header_cells[col].strip()) >= MIN_REPORT_CHARS)
    if has_header:
        names = _column_names(header_cells)
        data = rows[1:]
        if not data:
            return []  # a header and no records: nothing to read
    else:
        names = [f"column{i + 1}" for i in range(width)]
        data = rows
    table: list[dict[str, str]] = []
    for line, cells in data:
        if len(cells) != len(names):
            raise RagError(
                f"{name}: malformed CSV at line {line}: the row has {len(cells)} fields, "
                f"the {'header has' if has_header else 'first row has'} {len(names)}"
            )
        table.append(dict(zip(names, cells)))
    key = _pick_field(table, name, "column")
    out: list[Record] = []
    for n, row in enumerate(table, 1):
        if row[key].strip():
            others = {k: _clean_field(v) for k, v in row.items() if k != key and v.strip()}
            out.append((n, row[key], others))
    return out


def _column_names(cells: list[str]) -> list[str]:
    names: list[str] = []
    for i, cell in enumerate(cells):
        base = cell.strip().lstrip("\ufeff") or f"column{i + 1}"
        n, cand = 1, base
        while cand in names:
            n += 1
            cand = f"{base}_{n}"
        names.append(cand)
    return names


def json_records(text: str, name: str, lines: bool) -> list[Record]:
    """Objects from JSON Lines (one per line) or JSON (an object, or a list of objects). A file
    named for one form but written in the other is read in the form it is written in."""
    unit = "line" if lines else "item"
    if lines:
        try:
            objs = _json_lines(text, name)
        except RagError as exc:
            objs, unit = _json_document(text, name, fallback=exc), "item"
    else:
        try:
            objs = _json_document(text, name)
        except RagError as exc:
            try:
                objs, unit = _json_lines(text, name), "line"
            except RagError:
                raise exc from None
            if len(objs) < 2:
                raise exc from None
    table: list[tuple[int, dict]] = []
    for n, obj in objs:
        if not isinstance(obj, dict):
            raise RagError(f"{name}: {unit} {n} is a JSON {_json_type(obj)}, not an object with a report field")
        table.append((n, obj))
    if not table:
        return []
    strings = [{k: v for k, v in obj.items() if isinstance(v, str)} for _, obj in table]
    key = _pick_field(strings, name, "string field")
    out: list[Record] = []
    for (n, obj), texts in zip(table, strings):
        body = texts.get(key, "")
        if body.strip():
            others = {
                str(k): _scalar(v)
                for k, v in obj.items()
                if k != key and v is not None and not isinstance(v, (dict, list))
            }
            out.append((n, body, {k: v for k, v in others.items() if v}))
    return out


def _scalar(value: object) -> str:
    return _clean_field(value) if isinstance(value, str) else json.dumps(value)


def _json_type(obj: object) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}.get(type(obj), "null")


def _json_lines(text: str, name: str) -> list[tuple[int, object]]:
    out: list[tuple[int, object]] = []
    for n, line in enumerate(unify_newlines(text).split("\n"), 1):
        if not line.strip():
            continue
        try:
            out.append((n, json.loads(line, strict=False)))  # strict=False: raw tabs inside strings
        except json.JSONDecodeError as exc:
            raise RagError(f"{name}: line {n} is not valid JSON ({exc.msg} at column {exc.colno})") from exc
    return out


def _json_document(text: str, name: str, fallback: RagError | None = None) -> list[tuple[int, object]]:
    try:
        doc = json.loads(text, strict=False)
    except json.JSONDecodeError as exc:
        if fallback is not None:
            raise fallback from None
        raise RagError(f"{name} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from exc
    if isinstance(doc, dict):
        # {"data": [{…}, {…}]}: an object whose only content is a list of records
        lists = [v for v in doc.values() if isinstance(v, list) and v and all(isinstance(x, dict) for x in v)]
        long_strings = [v for v in doc.values() if isinstance(v, str) and len(v.strip()) >= MIN_REPORT_CHARS]
        if len(lists) == 1 and not long_strings:
            doc = lists[0]
        else:
            return [(1, doc)]
    if isinstance(doc, list):
        return list(enumerate(doc, 1))
    raise RagError(f"{name} holds a JSON {_json_type(doc)}, not an object or a list of objects")
