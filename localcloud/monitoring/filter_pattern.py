"""CloudWatch Logs filter patterns (FilterLogEvents, metric and subscription filters), compiled once
into a predicate over an event's message.

What is understood, as AWS documents it (FilterAndPatternSyntax):

* the empty pattern (and ``""``) matches every event;
* terms: ``ERROR`` (case-sensitive, anywhere in the message), several terms all must appear
  (``ERROR Exception``), a quoted phrase matches as written (``"Task timed out"``), ``-term``
  excludes events holding the term, ``?term`` makes an OR group (``?ERROR ?WARN``: either one);
* a regular expression between percent signs: ``%ERR[0-9]+%``;
* JSON patterns, ``{ <expr> }``, on events whose message is a JSON object: selectors ``$.a.b``,
  ``$.a[0]``; ``=``/``!=`` against strings (quoted, or unquoted with ``*`` wildcards: ``5*``) and
  numbers; ``<``, ``>``, ``<=``, ``>=`` against numbers; ``IS TRUE``, ``IS FALSE``, ``IS NULL``,
  ``NOT EXISTS``; ``&&``, ``||`` (``&&`` binds tighter) and parentheses. A comparison on a missing
  field never matches.

Space-delimited patterns (``[ip, user, ...]``) are refused loudly (``InvalidPattern``), never
ignored: an unsupported pattern that matched everything would silently lie.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

Predicate = Callable[[str], bool]


class InvalidPattern(ValueError):
    """The pattern is not valid filter pattern syntax (AWS answers InvalidParameterException)."""


def compile_pattern(pattern: str | None) -> Predicate:
    text = (pattern or "").strip()
    if text in ("", '""'):
        return _everything
    if text.startswith("{"):
        return _json_predicate(text)
    if text.startswith("["):
        raise InvalidPattern("space-delimited filter patterns ([field, ...]) are not supported by localcloud")
    if len(text) >= 2 and text.startswith("%") and text.endswith("%") and text.count("%") == 2:
        regex = _regex(text[1:-1])
        return lambda message: regex.search(message) is not None
    return _terms_predicate(text)


def _everything(message: str) -> bool:
    return True


def _regex(body: str) -> re.Pattern[str]:
    if "(" in body or ")" in body:
        raise InvalidPattern("regular expressions in filter patterns may not use ( )")
    try:
        return re.compile(body)
    except re.error as e:
        raise InvalidPattern(f"invalid regular expression %{body}%: {e}") from e


# ---- terms ----------------------------------------------------------------------------------------
_TERM = re.compile(r'\s*([?-]?)(?:"((?:[^"\\]|\\.)*)"|([^\s"]+))')


def _terms_predicate(text: str) -> Predicate:
    required: list[str] = []
    optional: list[str] = []
    excluded: list[str] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TERM.match(text, pos)
        if m is None:
            raise InvalidPattern(f"invalid filter pattern near {text[pos:pos + 20]!r}")
        sign, quoted, bare = m.group(1), m.group(2), m.group(3)
        term = quoted.replace('\\"', '"') if quoted is not None else bare
        if not term:
            raise InvalidPattern("empty term in filter pattern")
        {"": required, "?": optional, "-": excluded}[sign].append(term)
        pos = m.end()

    def matches(message: str) -> bool:
        if any(t not in message for t in required):
            return False
        if optional and not any(t in message for t in optional):
            return False
        return not any(t in message for t in excluded)

    return matches


# ---- JSON -----------------------------------------------------------------------------------------
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<and>&&)|(?P<or>\|\|)|(?P<lp>\()|(?P<rp>\))|
        (?P<op>!=|<=|>=|=|<|>)|
        (?P<sel>\$(?:\.[A-Za-z0-9_\-@]+|\[\d+\])*)|
        (?P<str>"(?:[^"\\]|\\.)*")|
        (?P<regex>%[^%]*%)|
        (?P<word>[^\s()&|=<>!"]+)
    )""",
    re.VERBOSE,
)
_MISSING = object()
NUMERIC_OPS = {"<", ">", "<=", ">="}


def _tokens(body: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(body):
        if body[pos:].strip() == "":
            break
        m = _TOKEN.match(body, pos)
        if m is None or m.end() == pos:
            raise InvalidPattern(f"invalid JSON filter pattern near {body[pos:pos + 20]!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def _json_predicate(text: str) -> Predicate:
    if not text.endswith("}"):
        raise InvalidPattern("a JSON filter pattern must end with }")
    tokens = _tokens(text[1:-1])
    if not tokens:
        raise InvalidPattern("empty JSON filter pattern")
    parser = _Parser(tokens)
    node = parser.expression()
    if parser.pos != len(tokens):
        raise InvalidPattern(f"unexpected {tokens[parser.pos][1]!r} in JSON filter pattern")

    def matches(message: str) -> bool:
        if not message.lstrip().startswith("{"):
            return False
        try:
            doc = json.loads(message)
        except ValueError:
            return False
        return isinstance(doc, dict) and node(doc)

    return matches


Node = Callable[[Any], bool]


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]):
        self.tokens = tokens
        self.pos = 0

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self, kind: str | None = None) -> tuple[str, str]:
        token = self._peek()
        if token is None or (kind is not None and token[0] != kind):
            raise InvalidPattern(f"JSON filter pattern: expected {kind or 'more'}, got {token[1] if token else 'the end'}")
        self.pos += 1
        return token

    def expression(self) -> Node:
        terms = [self._conjunction()]
        while (t := self._peek()) is not None and t[0] == "or":
            self._take()
            terms.append(self._conjunction())
        return terms[0] if len(terms) == 1 else (lambda doc: any(t(doc) for t in terms))

    def _conjunction(self) -> Node:
        factors = [self._factor()]
        while (t := self._peek()) is not None and t[0] == "and":
            self._take()
            factors.append(self._factor())
        return factors[0] if len(factors) == 1 else (lambda doc: all(f(doc) for f in factors))

    def _factor(self) -> Node:
        t = self._peek()
        if t is not None and t[0] == "lp":
            self._take()
            inner = self.expression()
            self._take("rp")
            return inner
        return self._comparison()

    def _comparison(self) -> Node:
        path = _selector(self._take("sel")[1])
        t = self._peek()
        if t is not None and t[0] == "word" and t[1] in ("IS", "NOT"):
            self._take()
            word = self._take("word")[1]
            if t[1] == "NOT" and word == "EXISTS":
                return lambda doc: _lookup(doc, path) is _MISSING
            if t[1] == "IS" and word in ("TRUE", "FALSE", "NULL"):
                want = {"TRUE": True, "FALSE": False, "NULL": None}[word]
                return lambda doc: (v := _lookup(doc, path)) is not _MISSING and v is want
            raise InvalidPattern(f"JSON filter pattern: {t[1]} {word} is not an operator")
        op = self._take("op")[1]
        kind, raw = self._take()
        if kind == "str":
            return _string_test(path, op, json.loads(raw), quoted=True)
        if kind == "regex":
            regex = _regex(raw[1:-1])
            if op not in ("=", "!="):
                raise InvalidPattern("a regular expression needs = or !=")
            return lambda doc: isinstance(v := _lookup(doc, path), str) and (regex.search(v) is not None) == (op == "=")
        if kind != "word":
            raise InvalidPattern(f"JSON filter pattern: {raw!r} is not a value")
        number = _number(raw)
        if op in NUMERIC_OPS:
            if number is None:
                raise InvalidPattern(f"JSON filter pattern: {op} needs a number, not {raw!r}")
            return _numeric_test(path, op, number)
        if number is not None and "*" not in raw:
            return _equal_number(path, op, number, raw)
        return _string_test(path, op, raw, quoted=False)


def _selector(text: str) -> list[str | int]:
    path: list[str | int] = []
    for m in re.finditer(r"\.([A-Za-z0-9_\-@]+)|\[(\d+)\]", text[1:]):
        path.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
    return path


def _lookup(doc: Any, path: list[str | int]) -> Any:
    for step in path:
        if isinstance(step, int):
            if not isinstance(doc, list) or step >= len(doc):
                return _MISSING
            doc = doc[step]
        else:
            if not isinstance(doc, dict) or step not in doc:
                return _MISSING
            doc = doc[step]
    return doc


def _number(raw: str) -> float | None:
    try:
        return float(raw)
    except ValueError:
        return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _numeric_test(path: list[str | int], op: str, number: float) -> Node:
    compare = {"<": float.__lt__, ">": float.__gt__, "<=": float.__le__, ">=": float.__ge__}[op]
    return lambda doc: _is_number(v := _lookup(doc, path)) and compare(float(v), number)


def _equal_number(path: list[str | int], op: str, number: float, raw: str) -> Node:
    """``= 200``: a numeric field equal to 200, or a string field reading exactly ``200``."""

    def test(doc: Any) -> bool:
        v = _lookup(doc, path)
        if _is_number(v):
            same = float(v) == number
        elif isinstance(v, str):
            same = v == raw
        else:
            return False
        return same if op == "=" else not same

    return test


def _text_of(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if _is_number(value):
        return json.dumps(value)
    return None


def _string_test(path: list[str | int], op: str, literal: str, quoted: bool) -> Node:
    if op not in ("=", "!="):
        raise InvalidPattern(f"JSON filter pattern: {op} compares numbers, not {literal!r}")
    if "*" in literal:
        regex = re.compile(".*".join(re.escape(part) for part in literal.split("*")) + r"\Z", re.DOTALL)
        same: Callable[[str], bool] = lambda text: regex.match(text) is not None  # noqa: E731
    else:
        same = literal.__eq__

    def test(doc: Any) -> bool:
        text = _text_of(_lookup(doc, path))
        if text is None:
            return False
        return same(text) if op == "=" else not same(text)

    return test
