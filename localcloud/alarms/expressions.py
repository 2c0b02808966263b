"""Metric math for alarms: arithmetic, comparisons, logic and ``IF`` over query ids, parsed safely
(never ``eval``).

Supported: numbers (``100``, ``1.5``, ``2e3``), query ids (``m1``), ``+ - * / ^``, unary minus,
parentheses; as CloudWatch documents them, the comparison operators ``== != < > <= >=`` and the
logical ``AND``/``&&``, ``OR``/``||`` (each gives 1 for true and 0 for false; a non-zero operand is
true), and ``IF(condition, trueValue[, falseValue])`` (without ``falseValue``, a period whose
condition is false has no datapoint). Precedence, loosest first: ``OR``, ``AND``, comparisons,
``+ -``, ``* /``, unary minus, ``^``. Any other function (``SUM(...)``, ``FILL(...)``) is refused
with a clear message. Evaluation is per period: if an operand has no datapoint (or a division is
by zero) the result has no datapoint either.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

MAX_LENGTH = 2048
MAX_DEPTH = 64

_TOKEN = re.compile(
    r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|(?P<id>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>>=|<=|==|!=|&&|\|\||[-+*/^(),<>]))"
)


class ExpressionError(ValueError):
    """The expression does not parse, or uses something the local cloud does not evaluate."""


@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Ref:
    id: str


@dataclass(frozen=True)
class Neg:
    operand: Node


@dataclass(frozen=True)
class BinOp:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class If:
    condition: Node
    then: Node
    otherwise: Node | None


Node = Num | Ref | Neg | BinOp | If

COMPARISONS = ("==", "!=", "<=", ">=", "<", ">")
LOGICAL = {"AND": "&&", "&&": "&&", "OR": "||", "||": "||"}


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ExpressionError(f"unexpected character {text[pos:].lstrip()[:1]!r} at position {pos + 1}")
        kind = m.lastgroup or ""
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, text: str):
        self.tokens = _tokenize(text)
        self.pos = 0
        self.depth = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise ExpressionError("unexpected end of expression")
        self.pos += 1
        return tok

    def parse(self) -> Node:
        if not self.tokens:
            raise ExpressionError("the expression is empty")
        node = self.expr()
        if self.peek() is not None:
            raise ExpressionError(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return node

    def _nested(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError(f"the expression nests deeper than {MAX_DEPTH} levels")

    def expr(self) -> Node:
        return self.logical("||")

    def _logical_op(self) -> str | None:
        tok = self.peek()
        if tok is None or tok[0] not in ("op", "id"):
            return None
        return LOGICAL.get(tok[1])

    def logical(self, op: str) -> Node:
        node = self.logical("&&") if op == "||" else self.comparison()
        while self._logical_op() == op:
            self.take()
            node = BinOp(op, node, self.logical("&&") if op == "||" else self.comparison())
        return node

    def comparison(self) -> Node:
        node = self.additive()
        while (tok := self.peek()) is not None and tok[0] == "op" and tok[1] in COMPARISONS:
            self.take()
            node = BinOp(tok[1], node, self.additive())
        return node

    def additive(self) -> Node:
        node = self.term()
        while (tok := self.peek()) is not None and tok[1] in "+-" and tok[0] == "op":
            self.take()
            node = BinOp(tok[1], node, self.term())
        return node

    def term(self) -> Node:
        node = self.unary()
        while (tok := self.peek()) is not None and tok[1] in "*/" and tok[0] == "op":
            self.take()
            node = BinOp(tok[1], node, self.unary())
        return node

    def unary(self) -> Node:
        tok = self.peek()
        if tok is not None and tok[0] == "op" and tok[1] in "+-":
            self.take()
            self._nested()
            operand = self.unary()
            self.depth -= 1
            return Neg(operand) if tok[1] == "-" else operand
        return self.power()

    def power(self) -> Node:
        base = self.atom()
        tok = self.peek()
        if tok is not None and tok == ("op", "^"):
            self.take()
            self._nested()
            exponent = self.unary()  # right-associative: 2^3^2 == 2^(3^2)
            self.depth -= 1
            return BinOp("^", base, exponent)
        return base

    def atom(self) -> Node:
        kind, text = self.take()
        if kind == "num":
            return Num(float(text))
        if kind == "id":
            nxt = self.peek()
            if nxt == ("op", "("):
                if text == "IF":
                    return self.if_call()
                raise ExpressionError(
                    f"function {text}() is not supported by the local cloud (only IF(), + - * / ^, comparisons, "
                    "AND, OR, parentheses, numbers and query ids)"
                )
            if text in LOGICAL:
                raise ExpressionError(f"{text} needs an operand before it")
            if not re.fullmatch(r"[a-z][a-zA-Z0-9_]*", text):
                raise ExpressionError(f"{text!r} is not a query id (ids start with a lowercase letter)")
            return Ref(text)
        if text == "(":
            self._nested()
            node = self.expr()
            self.depth -= 1
            if self.take() != ("op", ")"):
                raise ExpressionError("missing closing parenthesis")
            return node
        raise ExpressionError(f"unexpected {text!r}")


    def _argument(self) -> Node:
        self._nested()
        node = self.expr()
        self.depth -= 1
        return node

    def if_call(self) -> Node:
        self.take()  # (
        args = [self._argument()]
        while self.peek() == ("op", ","):
            self.take()
            args.append(self._argument())
        if self.take() != ("op", ")"):
            raise ExpressionError("missing closing parenthesis after IF's arguments")
        if len(args) not in (2, 3):
            raise ExpressionError(f"IF takes 2 or 3 arguments (condition, trueValue[, falseValue]), got {len(args)}")
        return If(args[0], args[1], args[2] if len(args) == 3 else None)


def parse(text: str) -> Node:
    """Parse ``text``; raises ExpressionError with a readable reason."""
    if not isinstance(text, str):
        raise ExpressionError("the expression must be a string")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"the expression is longer than {MAX_LENGTH} characters")
    return _Parser(text).parse()


def references(node: Node) -> set[str]:
    if isinstance(node, Ref):
        return {node.id}
    if isinstance(node, Neg):
        return references(node.operand)
    if isinstance(node, BinOp):
        return references(node.left) | references(node.right)
    if isinstance(node, If):
        return references(node.condition) | references(node.then) | (references(node.otherwise) if node.otherwise else set())
    return set()


def evaluate(node: Node, values: Mapping[str, float | None]) -> float | None:
    """The value of ``node`` for one period, or None when it has no datapoint."""
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Ref):
        return values.get(node.id)
    if isinstance(node, Neg):
        v = evaluate(node.operand, values)
        return None if v is None else -v
    if isinstance(node, If):
        condition = evaluate(node.condition, values)
        if condition is None:
            return None
        if condition != 0:
            return evaluate(node.then, values)
        return evaluate(node.otherwise, values) if node.otherwise is not None else None
    left = evaluate(node.left, values)
    right = evaluate(node.right, values)
    if left is None or right is None:
        return None
    if node.op in COMPARISONS or node.op in ("&&", "||"):
        return 1.0 if _truth(node.op, left, right) else 0.0
    try:
        if node.op == "+":
            result = left + right
        elif node.op == "-":
            result = left - right
        elif node.op == "*":
            result = left * right
        elif node.op == "/":
            if right == 0:
                return None
            result = left / right
        else:
            result = math.pow(left, right)
    except (OverflowError, ValueError, ZeroDivisionError):
        return None
    if isinstance(result, complex) or math.isnan(result) or math.isinf(result):
        return None
    return result


def _truth(op: str, left: float, right: float) -> bool:
    if op == "&&":
        return left != 0 and right != 0
    if op == "||":
        return left != 0 or right != 0
    return {"==": left == right, "!=": left != right, "<=": left <= right, ">=": left >= right,
            "<": left < right, ">": left > right}[op]
