"""`/docs`: the OpenAPI description as one self-contained HTML page.

The usual Swagger UI loads its scripts from a CDN, which an offline machine cannot reach; this page
is rendered on the server from the same OpenAPI document (`/openapi.json`) and needs nothing else:
every endpoint, its parameters and responses, and every field of every schema with its type,
constraints and description.
"""

from __future__ import annotations

from html import escape


def _type(s: dict) -> str:
    if "$ref" in s:
        name = s["$ref"].rsplit("/", 1)[-1]
        return f'<a href="#schema-{escape(name)}">{escape(name)}</a>'
    if "anyOf" in s or "oneOf" in s:
        return " | ".join(_type(x) for x in s.get("anyOf") or s["oneOf"])
    if "const" in s:
        return f"<code>{escape(repr(s['const']))}</code>"
    if "enum" in s:
        return " | ".join(f"<code>{escape(str(v))}</code>" for v in s["enum"])
    t = s.get("type", "any")
    if t == "array":
        return f"array of {_type(s.get('items', {}))}"
    if t == "object" and "additionalProperties" in s and isinstance(s["additionalProperties"], dict):
        return f"object of {_type(s['additionalProperties'])}"
    return escape(str(t))


_LIMITS = (
    ("minimum", "≥"),
    ("maximum", "≤"),
    ("exclusiveMinimum", ">"),
    ("exclusiveMaximum", "<"),
    ("minLength", "min length"),
    ("maxLength", "max length"),
    ("minItems", "min items"),
    ("maxItems", "max items"),
    ("pattern", "pattern"),
)


def _limits(s: dict) -> str:
    parts = []
    for src in [s, *s.get("anyOf", [])]:
        for key, label in _LIMITS:
            if key in src:
                parts.append(f"{label} {escape(str(src[key]))}")
    if "default" in s:
        parts.append(f"default <code>{escape(repr(s['default']))}</code>")
    return ", ".join(parts)


def _schema_table(name: str, schema: dict) -> str:
    rows = []
    required = set(schema.get("required", []))
    for field, prop in schema.get("properties", {}).items():
        rows.append(
            f"<tr><td><code>{escape(field)}</code>{' *' if field in required else ''}</td>"
            f"<td>{_type(prop)}</td><td>{_limits(prop)}</td>"
            f"<td>{escape(prop.get('description', ''))}</td></tr>"
        )
    desc = f"<p>{escape(schema['description'])}</p>" if schema.get("description") else ""
    body = (
        (
            "<table><tr><th>field (* required)</th><th>type</th><th>limits</th><th>description</th></tr>"
            + "".join(rows)
            + "</table>"
        )
        if rows
        else f"<p>{_type(schema)}</p>"
    )
    return f'<h3 id="schema-{escape(name)}">{escape(name)}</h3>{desc}{body}'


def _operation(path: str, method: str, op: dict) -> str:
    out = [
        f'<h2 id="{escape(method + path)}"><code>{method.upper()} {escape(path)}</code> — '
        f"{escape(op.get('summary', ''))}</h2>"
    ]
    if op.get("description"):
        out.append(f'<pre class="desc">{escape(op["description"])}</pre>')
    params = op.get("parameters", [])
    if params:
        out.append(
            "<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>type</th><th>limits</th>"
            "<th>description</th></tr>"
        )
        for p in params:
            s = p.get("schema", {})
            out.append(
                f"<tr><td><code>{escape(p['name'])}</code>{' *' if p.get('required') else ''}</td>"
                f"<td>{escape(p.get('in', ''))}</td><td>{_type(s)}</td><td>{_limits(s)}</td>"
                f"<td>{escape(p.get('description') or s.get('description', ''))}</td></tr>"
            )
        out.append("</table>")
    body = op.get("requestBody")
    if body:
        out.append("<h4>Request body</h4>")
        if body.get("description"):
            out.append(f"<p>{escape(body['description'])}</p>")
        out.append(
            "<ul>"
            + "".join(
                f"<li><code>{escape(ct)}</code>: {_type(c.get('schema', {}))}</li>"
                for ct, c in body.get("content", {}).items()
            )
            + "</ul>"
        )
    out.append("<h4>Responses</h4><table><tr><th>status</th><th>body</th><th>description</th></tr>")
    for status, r in sorted(op.get("responses", {}).items()):
        kinds = "<br>".join(
            f"<code>{escape(ct)}</code> {_type(c.get('schema', {}))}" for ct, c in r.get("content", {}).items()
        )
        out.append(f"<tr><td>{escape(status)}</td><td>{kinds}</td><td>{escape(r.get('description', ''))}</td></tr>")
    out.append("</table>")
    return "".join(out)


def render(spec: dict) -> str:
    info = spec.get("info", {})
    ops = [(p, m, op) for p, methods in spec.get("paths", {}).items() for m, op in methods.items()]
    toc = "".join(
        f'<li><a href="#{escape(m + p)}"><code>{m.upper()} {escape(p)}</code></a> {escape(op.get("summary", ""))}</li>'
        for p, m, op in ops
    )
    schemas = spec.get("components", {}).get("schemas", {})
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{escape(info.get("title", "API"))} — API</title>
<style>
body{{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;line-height:1.45}}
table{{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}}td,th{{border:1px solid #ccc;padding:.3rem .5rem;
vertical-align:top;text-align:left}}th{{background:#f3f3f3}}code{{background:#f5f5f5;padding:0 .2rem}}
pre.desc{{white-space:pre-wrap;background:#fafafa;border-left:3px solid #ccc;padding:.5rem}}h2{{margin-top:2.5rem}}
</style></head><body>
<h1>{escape(info.get("title", "API"))} <small>{escape(info.get("version", ""))}</small></h1>
<pre class="desc">{escape(info.get("description", ""))}</pre>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a>.</p>
<h2>Endpoints</h2><ul>{toc}</ul>
{"".join(_operation(p, m, op) for p, m, op in ops)}
<h2>Schemas</h2>
{"".join(_schema_table(n, s) for n, s in schemas.items())}
</body></html>"""
