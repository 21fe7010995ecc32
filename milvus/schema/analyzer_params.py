"""Which ``analyzer_params`` of a VARCHAR field this server can honour.

Only the standard analyzer is implemented (see :mod:`milvus.schema.analyzer`): it splits on
what is not a letter, digit or ``_`` and lower-cases. These params mean exactly that:

* none, ``""`` or ``{}`` (Milvus' default analyzer is the standard one);
* ``{"type": "standard"}``;
* ``{"tokenizer": "standard", "filter": ["lowercase"]}`` (the tokenizer may also be written
  ``{"type": "standard"}``).

Anything else (another analyzer type or tokenizer, stop words, other filters, the standard
tokenizer without ``lowercase``, which keeps case) is refused rather than tokenized differently.
"""

from __future__ import annotations

import json

ANALYZER_PARAMS_KEY = "analyzer_params"
MULTI_ANALYZER_PARAMS_KEY = "multi_analyzer_params"
ENABLE_ANALYZER_KEY = "enable_analyzer"

_STANDARD = "standard"


def _is_standard_tokenizer(value: object) -> bool:
    return value == _STANDARD or value == {"type": _STANDARD}


def analyzer_problem(raw: str | None) -> str | None:
    """Why ``raw`` (the field's ``analyzer_params`` JSON) cannot be served; ``None`` if it can."""
    if raw is None or not raw.strip():
        return None
    try:
        params = json.loads(raw)
    except ValueError:
        return f"analyzer_params is not valid JSON: {raw}"
    if not isinstance(params, dict):
        return f"analyzer_params must be a JSON object, got {raw}"
    if not params or params == {"type": _STANDARD}:
        return None
    if "type" in params:
        if params["type"] != _STANDARD:
            return f"only the standard analyzer is supported by this server, got type {params['type']!r}"
        extra = sorted(k for k in params if k != "type")
        return f"the standard analyzer's options {extra} are not supported by this server"
    tokenizer = params.get("tokenizer")
    if not _is_standard_tokenizer(tokenizer):
        return f"only the standard tokenizer is supported by this server, got {json.dumps(tokenizer)}"
    filters = params.get("filter")
    if filters != ["lowercase"]:
        return ("with the standard tokenizer this server supports exactly the filter [\"lowercase\"], "
                f"got {json.dumps(filters)}")
    extra = sorted(k for k in params if k not in ("tokenizer", "filter"))
    if extra:
        return f"analyzer options {extra} are not supported by this server"
    return None


def field_analyzer_problem(type_params: dict[str, str]) -> str | None:
    """:func:`analyzer_problem` of a field's type params, ``multi_analyzer_params`` included."""
    if type_params.get(MULTI_ANALYZER_PARAMS_KEY, "").strip():
        return "multi_analyzer_params is not supported by this server"
    return analyzer_problem(type_params.get(ANALYZER_PARAMS_KEY))


def analyzer_enabled(type_params: dict[str, str]) -> bool:
    return str(type_params.get(ENABLE_ANALYZER_KEY, "")).lower() == "true"
