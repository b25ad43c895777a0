"""The OpenAPI document as this server actually behaves, not as the static route declarations alone say.

FastAPI derives the document from the routes; what depends on the running configuration is filled in
here, so that a client (or a contract tester) can trust it:

* security: the bearer scheme and the 401 responses only when an API key is configured;
* limits from `ApiSettings`: the longest question, the largest `k`, the most chat messages;
* the model ids this server accepts (an enum, once the model catalogue is loaded);
* what a `scope` may name: the documents, places and years of the library being served, and only
  combinations that admit a report (`api.scope.schema`; rebuilt when the library changes); likewise
  what the filters of `/v1/indicators` may name (`api.indicators.router.document`);
* the chat request's rules: every `user` message holds one question (non-blank text within the limit,
  a string or a single text part), and there is one (`contains`); the last user message is the
  question and messages after it are accepted and ignored (an array's last item cannot be named);
* every response a route can give: 503 while the service loads, and the request-body errors.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api import scope
from api.indicators.router import document as indicator_filters
from api.settings import ApiSettings

# Routes that need neither the key nor a loaded service.
OPEN_PATHS = ("/healthz", "/readyz")
# A question: non-blank and within the server's limit. Non-blank is a character `str.strip` would keep
# (Python's `\S`); spelt out, since the `\s` of JSON Schema's regexes (ECMA 262) is another set: it
# leaves out U+001C-U+001F and U+0085, which Python strips, and takes in U+FEFF, which Python keeps.
NON_BLANK = r"[^\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}
JSON_ERROR = {"application/json": {"schema": ERROR_REF}}


def _error(description: str) -> dict:
    return {"description": description, "content": copy.deepcopy(JSON_ERROR)}


def _question(limit: int, description: str = "") -> dict:
    s: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": limit, "pattern": NON_BLANK}
    if description:
        s["description"] = description
    return s


def _set_limits(schemas: dict, api: ApiSettings, model_ids: list[str] | None) -> None:
    """Limits and enums from the configuration into the request schemas."""
    q = api.max_question_chars
    for name in ("AskRequest", "SearchRequest"):
        props = schemas.get(name, {}).get("properties", {})
        if "question" in props:
            props["question"] = _question(q, props["question"].get("description", ""))
        if "k" in props:
            k = props["k"]
            target = next((s for s in k.get("anyOf", []) if s.get("type") == "integer"), k)
            target["maximum"] = api.max_k
            if isinstance(k.get("default"), int) and k["default"] > api.max_k:
                k["default"] = api.max_k
    chat = schemas.get("ChatCompletionRequest", {}).get("properties", {})
    if "messages" in chat:
        chat["messages"]["maxItems"] = api.max_messages
    if model_ids:
        for name in ("AskRequest", "ChatCompletionRequest"):
            prop = schemas.get(name, {}).get("properties", {}).get("model")
            if prop is not None:
                prop["anyOf"] = [{"type": "string", "enum": model_ids}, {"type": "null"}]


def _chat_messages(schemas: dict, api: ApiSettings) -> None:
    """Split ChatMessage into the user's (a question) and the others (accepted, ignored)."""
    message = schemas.get("ChatMessage")
    request = schemas.get("ChatCompletionRequest", {}).get("properties", {})
    if message is None or "messages" not in request:
        return
    q = api.max_question_chars
    other = copy.deepcopy(message)
    other["properties"]["role"] = {
        **other["properties"]["role"],
        "enum": [r for r in other["properties"]["role"]["enum"] if r != "user"],
    }
    other["title"] = "OtherMessage"
    other["description"] = "A system, developer, assistant or tool message: accepted and ignored."
    schemas["OtherMessage"] = other
    schemas["UserTextPart"] = {
        "type": "object",
        "title": "UserTextPart",
        "required": ["type", "text"],
        "properties": {"type": {"type": "string", "const": "text"}, "text": _question(q, "The question.")},
    }
    user = copy.deepcopy(message)
    user["title"] = "UserMessage"
    user["description"] = (
        f"A question: non-blank text of at most {q} characters, as a string or as one text "
        "part. The last one is answered (messages after it are ignored); the earlier ones are the history "
        "a follow-up is rewritten with."
    )
    user["properties"]["role"] = {"type": "string", "const": "user", "description": "`user`."}
    user["properties"]["content"] = {
        "anyOf": [
            _question(q),
            {"type": "array", "minItems": 1, "maxItems": 1, "items": {"$ref": "#/components/schemas/UserTextPart"}},
        ],
        "description": "The question, as a string or a list holding one text part.",
    }
    user["required"] = ["role", "content"]
    schemas["UserMessage"] = user
    user_ref = {"$ref": "#/components/schemas/UserMessage"}
    messages = request["messages"]
    messages["items"] = {"oneOf": [user_ref, {"$ref": "#/components/schemas/OtherMessage"}]}
    messages["contains"] = user_ref
    messages["description"] = (
        messages.get("description", "")
        + " The last user message is the question; messages after it are accepted and ignored."
    ).strip()


def _responses(spec: dict, protected: bool) -> None:
    """Security and the responses every route may give."""
    for path, methods in spec.get("paths", {}).items():
        for op in methods.values():
            responses = op.setdefault("responses", {})
            responses.setdefault("431", _error("Request headers larger than the configured limit."))
            if path in OPEN_PATHS:
                op.pop("security", None)
                continue
            if protected:
                op["security"] = [{"HTTPBearer": []}]
                responses.setdefault("401", _error("Missing or wrong API key."))
            else:
                op.pop("security", None)
                responses.pop("401", None)
            responses.setdefault("503", _error("The service is still loading (see Retry-After) or could not load."))
            if "requestBody" in op:
                responses.setdefault("400", _error("Malformed body: not JSON, not UTF-8, nested too deeply."))
                responses.setdefault("413", _error("Request body larger than the configured limit."))
            if "requestBody" in op or op.get("parameters"):
                responses.setdefault("422", _error("A field is missing, of the wrong type or out of range."))
    components = spec.setdefault("components", {})
    if protected:
        components.setdefault("securitySchemes", {})["HTTPBearer"] = {
            "type": "http",
            "scheme": "bearer",
            "description": "The server's API key (RAG_API_API_KEY).",
        }
    else:
        components.get("securitySchemes", {}).pop("HTTPBearer", None)
        if not components.get("securitySchemes"):
            components.pop("securitySchemes", None)


def _links(spec: dict) -> None:
    """An upload's id leads to its text, its file and its removal (for clients and stateful testing)."""
    paths = spec.get("paths", {})
    try:
        created = paths["/v1/documents"]["post"]["responses"]["201"]
        targets = {
            "DocumentText": paths["/v1/documents/{doc_id}/text"]["get"]["operationId"],
            "DocumentFile": paths["/v1/documents/{doc_id}/file"]["get"]["operationId"],
            "DeleteDocument": paths["/v1/documents/{doc_id}"]["delete"]["operationId"],
        }
    except KeyError:
        return
    created["links"] = {
        name: {"operationId": op, "parameters": {"doc_id": "$response.body#/document/id"}}
        for name, op in targets.items()
    }


def build(
    app: FastAPI, api: ApiSettings, model_ids: list[str] | None, vocabulary: scope.Vocabulary | None = None
) -> dict:
    """The document for this app under its configuration (`model_ids`, `vocabulary`: None while the
    service loads)."""
    spec = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version=app.openapi_version,
        description=app.description,
        routes=app.routes,
    )
    schemas = spec.get("components", {}).get("schemas", {})
    _set_limits(schemas, api, model_ids)
    if vocabulary is not None and "ScopeRequest" in schemas:
        schemas["ScopeRequest"] = scope.schema(schemas["ScopeRequest"], vocabulary)
    if vocabulary is not None and vocabulary.reports:
        indicator_filters(spec, vocabulary)
    _chat_messages(schemas, api)
    _responses(spec, protected=bool(api.api_key))
    _links(spec)
    return spec
