"""Tokens of the Milvus filter language (the lexer rules of Milvus' ``Plan.g4``).

* integers: decimal, octal (``017``), hex (``0x1F``), binary (``0b101``); int64 range;
* floats: ``1.5``, ``.5``, ``1.``, ``1e-3``;
* strings in single or double quotes with Go escapes (``\\n``, ``\\t``, ``\\"``, ``\\'``,
  ``\\\\``, ``\\xHH``, ``\\uHHHH``, ``\\UHHHHHHHH``, octal ``\\NNN``); any other escaped
  character keeps its backslash, so a ``like`` pattern may write ``\\%`` and ``\\_``;
  raw strings ``r"..."`` keep every backslash;
* booleans ``true``/``True``/``TRUE`` and ``false``/``False``/``FALSE``;
* keywords in lower or upper case: ``and or not in like exists``, ``is null``,
  ``is not null``; ``&&``, ``||`` and ``!`` are ``and``, ``or`` and ``not``;
* identifiers ``[A-Za-z_][A-Za-z0-9_]*`` and ``$meta``;
* operators ``( ) [ ] { } , + - * / % ** < <= > >= == != ~ & | ^ << >> =``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from milvus.expr.errors import ExprError

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

_KEYWORDS = {w: w for w in ("and", "or", "not", "in", "like", "exists")}
_KEYWORDS.update({w.upper(): w for w in list(_KEYWORDS)})
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
KEYWORDS_AND_BOOLS = frozenset(_KEYWORDS) | frozenset(_BOOLS)  # words that never name a field
_OPERATORS = ("**", "<=", ">=", "==", "!=", "&&", "||", "<<", ">>", "=~", "!~",
              "(", ")", "[", "]", "{", "}", ",", "+", "-", "*", "/", "%", "<", ">", "!", "~", "&", "|", "^", "=")
_OP_ALIASES = {"&&": "and", "||": "or", "!": "not"}

_DIGITS = frozenset("0123456789")
_WORD = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_IS_NULL = re.compile(r"(is|IS)\s+(?:(not|NOT)\s+)?(null|NULL)(?![A-Za-z0-9_])")
_NUMBER = re.compile(
    r"0[xX][0-9a-fA-F]+|0[bB][01]+"
    r"|(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[0-9]+[eE][+-]?[0-9]+"
    r"|[0-9]+")
_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
                   "\\": "\\", "'": "'", '"': '"', "?": "?"}


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # int float str bool ident meta op kw eof
    text: str  # operators and keywords: the canonical spelling; others: the source text
    value: object
    start: int
    end: int


def _unescape(body: str, start: int) -> str:
    """The value of a quoted string's body (Go escapes; unknown escapes keep the backslash)."""
    if "\\" not in body:
        return body
    out: list[str] = []
    i, n = 0, len(body)
    while i < n:
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        if i + 1 >= n:
            raise ExprError("token recognition error: a string ends with a lone backslash",
                            start + i, syntax=True)
        nxt = body[i + 1]
        if nxt in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[nxt])
            i += 2
        elif nxt in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[nxt]
            digits = body[i + 2:i + 2 + width]
            if len(digits) != width or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise ExprError(f"token recognition error: invalid escape '\\{nxt}{digits}' "
                                f"(expected {width} hex digits)", start + i, syntax=True)
            code = int(digits, 16)
            if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                raise ExprError(f"token recognition error: invalid code point in '\\{nxt}{digits}'",
                                start + i, syntax=True)
            out.append(chr(code))
            i += 2 + width
        elif nxt in "01234567":
            digits = body[i + 1:i + 4]
            if len(digits) != 3 or not all(c in "01234567" for c in digits):
                raise ExprError(f"token recognition error: invalid octal escape '\\{digits}' "
                                "(expected 3 octal digits)", start + i, syntax=True)
            out.append(chr(int(digits, 8)))
            i += 4
        else:  # \% \_ and friends: kept for the like pattern
            out.append("\\" + nxt)
            i += 2
    return "".join(out)


def _string(source: str, pos: int, raw: bool) -> tuple[str, int]:
    """The string literal whose opening quote is at ``pos``: (value, end)."""
    quote = source[pos]
    i = pos + 1
    n = len(source)
    while i < n:
        ch = source[i]
        if ch == "\\":
            i += 2
            continue
        if ch == quote:
            body = source[pos + 1:i]
            return (body if raw else _unescape(body, pos + 1)), i + 1
        if ch in "\r\n":
            break
        i += 1
    raise ExprError(f"token recognition error: unterminated string literal starting with {quote}",
                    pos, syntax=True)


def _number(text: str, start: int) -> Token:
    lowered = text.lower()
    if lowered.startswith(("0x", "0b")):
        value: int | float = int(text[2:], 16 if lowered[1] == "x" else 2)
        kind = "int"
    elif any(c in lowered for c in ".e"):
        value, kind = float(text), "float"
    elif len(text) > 1 and text[0] == "0":
        if any(c in "89" for c in text):
            raise ExprError(f"token recognition error: invalid octal literal '{text}'", start, syntax=True)
        value, kind = int(text, 8), "int"
    else:
        value, kind = int(text), "int"
    if kind == "int" and not INT64_MIN <= value <= INT64_MAX:  # type: ignore[operator]
        raise ExprError(f"integer literal {text} is out of the int64 range", start, start + len(text))
    return Token(kind, text, value, start, start + len(text))


def tokenize(source: str) -> list[Token]:
    """The tokens of ``source``, ending with an ``eof`` token."""
    tokens: list[Token] = []
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch in " \t\r\n":
            i += 1
            continue
        if ch in "'\"":
            value, end = _string(source, i, raw=False)
            tokens.append(Token("str", source[i:end], value, i, end))
            i = end
            continue
        if ch in "rR" and i + 1 < n and source[i + 1] in "'\"":
            value, end = _string(source, i + 1, raw=True)
            tokens.append(Token("str", source[i:end], value, i, end))
            i = end
            continue
        if ch in _DIGITS or (ch == "." and i + 1 < n and source[i + 1] in _DIGITS):
            match = _NUMBER.match(source, i)
            assert match is not None
            end = match.end()
            if end < n and (source[end] in _WORD or source[end] in _DIGITS or source[end] == "."):
                bad = re.match(r"[0-9A-Za-z_.]+", source[i:]).group(0)  # type: ignore[union-attr]
                raise ExprError(f"token recognition error: invalid number literal '{bad}'", i, syntax=True)
            tokens.append(_number(match.group(0), i))
            i = end
            continue
        if ch == "$":
            if source.startswith("$meta", i) and not (i + 5 < n and (source[i + 5] in _WORD or source[i + 5] in _DIGITS)):
                tokens.append(Token("meta", "$meta", "$meta", i, i + 5))
                i += 5
                continue
            raise ExprError("token recognition error at: '$' (only $meta may start with $)", i, syntax=True)
        if ch in _WORD:
            null_check = _IS_NULL.match(source, i)
            if null_check:
                kind = "is not null" if null_check.group(2) else "is null"
                tokens.append(Token("kw", kind, kind, i, null_check.end()))
                i = null_check.end()
                continue
            match = _IDENT.match(source, i)
            assert match is not None
            word = match.group(0)
            end = match.end()
            if word in _KEYWORDS:
                tokens.append(Token("kw", _KEYWORDS[word], word, i, end))
            elif word in _BOOLS:
                tokens.append(Token("bool", word, _BOOLS[word], i, end))
            else:
                tokens.append(Token("ident", word, word, i, end))
            i = end
            continue
        for op in _OPERATORS:
            if source.startswith(op, i):
                if op in _OP_ALIASES:
                    tokens.append(Token("kw", _OP_ALIASES[op], op, i, i + len(op)))
                else:
                    tokens.append(Token("op", op, op, i, i + len(op)))
                i += len(op)
                break
        else:
            shown = ch if ch.isprintable() else ascii(ch)[1:-1]
            raise ExprError(f"token recognition error at: '{shown}'", i, syntax=True)
    tokens.append(Token("eof", "<EOF>", None, n, n))
    return tokens
