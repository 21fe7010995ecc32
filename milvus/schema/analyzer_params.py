"""A VARCHAR field's ``analyzer_params`` as an ``Analyzer`` (``milvus.schema.analyzer``).

Accepted, as Milvus writes them:

* none, ``""`` or ``{}``: the standard analyzer (the standard tokenizer, ``lowercase``);
* built-in analyzers: ``{"type": "standard", "stop_words": [...]}`` and ``{"type": "english",
  "stop_words": [...]}`` (the standard tokenizer, ``lowercase``, the English Snowball
  stemmer, then the English stop words and the given ones);
* custom ones: ``{"tokenizer": "standard" | "whitespace", "filter": [...]}`` (the tokenizer
  may also be written ``{"type": ...}``), the filters ``"lowercase"``, ``"asciifolding"``,
  ``"alphanumonly"``, ``{"type": "stop", "stop_words": [...]}`` (``_english_`` for the
  English list), ``{"type": "stemmer", "language": ...}`` and ``{"type": "length", "max": N}``.

Anything else (other analyzers, tokenizers or filters, ``multi_analyzer_params``) is refused
with the reason rather than tokenized differently from what was asked.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from milvus.schema.analyzer import ENGLISH_STOP_WORDS, STANDARD, Analyzer, TokenFilter

ANALYZER_PARAMS_KEY = "analyzer_params"
MULTI_ANALYZER_PARAMS_KEY = "multi_analyzer_params"
ENABLE_ANALYZER_KEY = "enable_analyzer"

_TOKENIZERS = ("standard", "whitespace")
_PLAIN_FILTERS = ("lowercase", "asciifolding", "alphanumonly")
_LOWERCASE = TokenFilter("lowercase")


class AnalyzerError(ValueError):
    """``analyzer_params`` this server cannot serve; the message says why."""


def _stop_words(value: Any) -> frozenset[str]:
    words = [value] if isinstance(value, str) else value
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        raise AnalyzerError(f"stop_words must be a list of strings, got {json.dumps(value)}")
    out: set[str] = set()
    for word in words:
        if word == "_english_":
            out |= ENGLISH_STOP_WORDS
        elif word.startswith("_") and word.endswith("_") and len(word) > 2:
            raise AnalyzerError(f"stop word list {word} is not supported by this server (only _english_)")
        else:
            out.add(word)
    return frozenset(out)


def _stemmer(language: Any) -> TokenFilter:
    import snowballstemmer  # noqa: PLC0415 - only where a stemmer is asked for

    if not isinstance(language, str) or language.lower() not in snowballstemmer.algorithms():
        raise AnalyzerError(f"stemmer language {json.dumps(language)} is not supported, supported: "
                            f"{', '.join(snowballstemmer.algorithms())}")
    return TokenFilter("stemmer", language=language.lower())


def _filter(spec: Any) -> TokenFilter:
    if isinstance(spec, str):
        if spec not in _PLAIN_FILTERS:
            raise AnalyzerError(f"filter {spec} is not supported by this server, supported: "
                                f"{', '.join(_PLAIN_FILTERS)}, stop, stemmer, length")
        return TokenFilter(spec)
    if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
        raise AnalyzerError(f"a filter is a name or an object with a type, got {json.dumps(spec)}")
    kind = spec["type"]
    extra = sorted(set(spec) - {"type", {"stop": "stop_words", "stemmer": "language", "length": "max"}.get(kind, "")})
    if extra:
        raise AnalyzerError(f"options {extra} of filter {kind} are not supported by this server")
    if kind in _PLAIN_FILTERS:
        return TokenFilter(kind)
    if kind == "stop":
        return TokenFilter("stop", words=_stop_words(spec.get("stop_words", [])))
    if kind == "stemmer":
        return _stemmer(spec.get("language"))
    if kind == "length":
        limit = spec.get("max")
        if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
            raise AnalyzerError(f"the length filter needs a positive integer max, got {json.dumps(limit)}")
        return TokenFilter("length", max_bytes=limit)
    raise AnalyzerError(f"filter {kind} is not supported by this server")


def _built_in(params: Mapping[str, Any]) -> Analyzer:
    kind = params["type"]
    extra = sorted(set(params) - {"type", "stop_words"})
    if extra:
        raise AnalyzerError(f"options {extra} of the {kind} analyzer are not supported by this server")
    stop = _stop_words(params["stop_words"]) if "stop_words" in params else frozenset()
    if kind == "standard":
        return Analyzer("standard", (_LOWERCASE, TokenFilter("stop", words=stop)) if stop else (_LOWERCASE,))
    if kind == "english":
        return Analyzer("standard", (_LOWERCASE, TokenFilter("stemmer", language="english"),
                                     TokenFilter("stop", words=ENGLISH_STOP_WORDS | stop)))
    raise AnalyzerError(f"only the standard and english analyzers are supported by this server, got type {kind!r}")


def parse_analyzer(raw: str | Mapping[str, Any] | None) -> Analyzer:
    """The analyzer ``raw`` (``analyzer_params``: JSON text or an object) describes."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return STANDARD
    if isinstance(raw, str):
        try:
            params = json.loads(raw)
        except ValueError:
            raise AnalyzerError(f"analyzer_params is not valid JSON: {raw}") from None
    else:
        params = dict(raw)
    if not isinstance(params, dict):
        raise AnalyzerError(f"analyzer_params must be a JSON object, got {raw}")
    if not params:
        return STANDARD
    if "type" in params:
        return _built_in(params)
    extra = sorted(set(params) - {"tokenizer", "filter"})
    if extra:
        raise AnalyzerError(f"analyzer options {extra} are not supported by this server")
    tokenizer = params.get("tokenizer")
    if isinstance(tokenizer, dict) and set(tokenizer) == {"type"}:
        tokenizer = tokenizer["type"]
    if tokenizer not in _TOKENIZERS:
        raise AnalyzerError(f"tokenizer {json.dumps(tokenizer)} is not supported by this server, supported: "
                            f"{', '.join(_TOKENIZERS)}")
    filters = params.get("filter", [])
    if not isinstance(filters, list):
        raise AnalyzerError(f"filter must be a list, got {json.dumps(filters)}")
    return Analyzer(tokenizer, tuple(_filter(f) for f in filters))


def analyzer_problem(raw: str | None) -> str | None:
    """Why ``raw`` (the field's ``analyzer_params`` JSON) cannot be served; ``None`` if it can."""
    try:
        parse_analyzer(raw)
    except AnalyzerError as exc:
        return str(exc)
    return None


def field_analyzer(type_params: Mapping[str, str]) -> Analyzer:
    """The analyzer of a field with these type params (checked at creation)."""
    if type_params.get(MULTI_ANALYZER_PARAMS_KEY, "").strip():
        raise AnalyzerError("multi_analyzer_params is not supported by this server")
    return parse_analyzer(type_params.get(ANALYZER_PARAMS_KEY))


def field_analyzer_problem(type_params: dict[str, str]) -> str | None:
    """:func:`analyzer_problem` of a field's type params, ``multi_analyzer_params`` included."""
    try:
        field_analyzer(type_params)
    except AnalyzerError as exc:
        return str(exc)
    return None


def analyzer_enabled(type_params: Mapping[str, str]) -> bool:
    return str(type_params.get(ENABLE_ANALYZER_KEY, "")).lower() == "true"
