"""Validate rule expressions (tag and segment definitions) at config load, before Spark ever sees them.

A rule is a Spark SQL boolean or value expression over known columns, e.g.
``churn_probability > 0.7 AND promotion_sensitivity >= 0.5``. Config is data written by people, so a
rule is parsed here by a small recursive-descent parser that accepts only a safe subset of SQL:

- literals (numbers, 'strings', TRUE/FALSE/NULL), known column names, parentheses;
- arithmetic ``+ - * / %``, comparisons ``= == != <> < <= > >=``, ``AND OR NOT``;
- ``IS [NOT] NULL``, ``[NOT] IN (literals)``, ``[NOT] BETWEEN a AND b``, ``[NOT] LIKE 'pattern'``;
- ``CASE WHEN ... THEN ... [ELSE ...] END`` and calls to whitelisted functions.

Anything else (statements, subqueries, unknown columns or functions, comments, quoted identifiers,
``;``) is rejected with a message saying what and where. A rule is also at most ``MAX_RULE_LENGTH``
characters and nests at most ``MAX_RULE_DEPTH`` levels, so neither this parser nor Spark's recurses
without bound on hostile or generated text. The accepted text is then safe for F.expr.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

# Limits of one rule. A hand-written rule nests a few levels; each level costs this recursive-descent
# parser about nine Python frames, so 32 levels stay far below the interpreter's recursion limit.
MAX_RULE_LENGTH = 4_000
MAX_RULE_DEPTH = 32

# Pure, deterministic, row-level functions only: no I/O, no randomness, no reflection, no UDFs.
ALLOWED_FUNCTIONS = frozenset(
    {
        "abs",
        "ceil",
        "coalesce",
        "exp",
        "floor",
        "greatest",
        "if",
        "least",
        "length",
        "ln",
        "log10",
        "lower",
        "nvl",
        "pow",
        "round",
        "sqrt",
        "upper",
    }
)
_KEYWORDS = frozenset(
    {"and", "or", "not", "is", "null", "in", "between", "like", "case", "when", "then", "else", "end", "true", "false"}
)
_TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)"
    r"|(?P<string>'(?:[^'\\]|'')*')"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op><=|>=|<>|!=|==|[-+*/%()<>=,]))"
)


class RuleError(ValueError):
    """A rule expression outside the accepted subset; the message says what and where."""


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    position: int


def _tokenize(text: str) -> list[_Token]:
    tokens, position = [], 0
    text = text.rstrip()
    for marker in ("--", "/*"):
        if marker in text.replace("''", ""):
            raise RuleError(f"comments ({marker}) are not allowed in a rule")
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            snippet = text[position:].lstrip()[:20]
            raise RuleError(f"unexpected {snippet!r} at character {len(text) - len(text[position:].lstrip()) + 1}")
        kind = match.lastgroup or ""
        tokens.append(_Token(kind, match.group(kind), match.start(kind)))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str, columns: Collection[str]):
        self.tokens = _tokenize(text)
        self.columns = {c.lower() for c in columns}
        self.index = 0
        self.depth = 0
        self.referenced: set[str] = set()

    # -- token helpers ----------------------------------------------------------------------------
    def _peek(self, offset: int = 0) -> _Token | None:
        i = self.index + offset
        return self.tokens[i] if i < len(self.tokens) else None

    def _is(self, *words: str, offset: int = 0) -> bool:
        token = self._peek(offset)
        return token is not None and token.text.lower() in words and token.kind in ("name", "op")

    def _take(self, *words: str) -> _Token:
        token = self._peek()
        if token is None or token.text.lower() not in words:
            found = "end of rule" if token is None else repr(token.text)
            raise RuleError(f"expected {' or '.join(map(repr, words))}, found {found}")
        self.index += 1
        return token

    def _accept(self, *words: str) -> bool:
        if self._is(*words):
            self.index += 1
            return True
        return False

    @contextmanager
    def _nested(self) -> Iterator[None]:
        """One level of nesting: parentheses, NOT, a sign, CASE or a function call's arguments."""
        self.depth += 1
        if self.depth > MAX_RULE_DEPTH:
            raise RuleError(
                f"nested more than {MAX_RULE_DEPTH} levels deep (parentheses, NOT, signs, CASE, function calls)"
            )
        try:
            yield
        finally:
            self.depth -= 1

    # -- grammar ----------------------------------------------------------------------------------
    def parse(self) -> set[str]:
        if not self.tokens:
            raise RuleError("empty rule")
        self._or()
        if self._peek() is not None:
            raise RuleError(f"unexpected {self._peek().text!r} after a complete expression")
        return self.referenced

    def _or(self) -> None:
        self._and()
        while self._accept("or"):
            self._and()

    def _and(self) -> None:
        self._not()
        while self._accept("and"):
            self._not()

    def _not(self) -> None:
        if self._accept("not"):
            with self._nested():
                self._not()
        else:
            self._predicate()

    def _predicate(self) -> None:
        self._additive()
        if self._accept("=", "==", "!=", "<>", "<", "<=", ">", ">="):
            self._additive()
        elif self._accept("is"):
            self._accept("not")
            self._take("null")
        else:
            self._accept("not")
            if self._accept("in"):
                self._take("(")
                self._literal()
                while self._accept(","):
                    self._literal()
                self._take(")")
            elif self._accept("between"):
                self._additive()
                self._take("and")
                self._additive()
            elif self._accept("like"):
                token = self._peek()
                if token is None or token.kind != "string":
                    raise RuleError("LIKE needs a 'string' pattern")
                self.index += 1
            elif self._is("not", offset=-1):
                raise RuleError("NOT here must be followed by IN, BETWEEN or LIKE")

    def _additive(self) -> None:
        self._term()
        while self._accept("+", "-"):
            self._term()

    def _term(self) -> None:
        self._unary()
        while self._accept("*", "/", "%"):
            self._unary()

    def _unary(self) -> None:
        if self._accept("-", "+"):
            with self._nested():
                self._unary()
        else:
            self._primary()

    def _literal(self) -> None:
        token = self._peek()
        if token is not None and self._accept("-"):
            token = self._peek()
        if token is None or not (token.kind in ("number", "string") or token.text.lower() in ("true", "false", "null")):
            raise RuleError(
                f"IN (...) takes literals only, found {'end of rule' if token is None else repr(token.text)}"
            )
        self.index += 1

    def _primary(self) -> None:
        token = self._peek()
        if token is None:
            raise RuleError("rule ends where a value was expected")
        if token.kind in ("number", "string") or token.text.lower() in ("true", "false", "null"):
            self.index += 1
        elif self._accept("("):
            with self._nested():
                self._or()
            self._take(")")
        elif self._accept("case"):
            with self._nested():
                self._case()
        elif token.kind == "name":
            self._name(token)
        else:
            raise RuleError(f"unexpected {token.text!r} at character {token.position + 1}")

    def _case(self) -> None:
        self._take("when")
        self._or()
        self._take("then")
        self._or()
        while self._accept("when"):
            self._or()
            self._take("then")
            self._or()
        if self._accept("else"):
            self._or()
        self._take("end")

    def _name(self, token: _Token) -> None:
        name = token.text.lower()
        self.index += 1
        if self._is("("):
            if name not in ALLOWED_FUNCTIONS:
                raise RuleError(
                    f"function {token.text!r} is not allowed; allowed: {', '.join(sorted(ALLOWED_FUNCTIONS))}"
                )
            self._take("(")
            with self._nested():
                if not self._is(")"):
                    self._or()
                    while self._accept(","):
                        self._or()
            self._take(")")
        elif name in _KEYWORDS:
            raise RuleError(f"{token.text!r} cannot stand here (character {token.position + 1})")
        elif name in self.columns:
            self.referenced.add(name)
        else:
            raise RuleError(f"unknown column {token.text!r}")


def validate_rule(text: str, columns: Collection[str]) -> frozenset[str]:
    """Check ``text`` against the accepted subset; return the columns it references.

    Raises:
        RuleError: the rule uses anything outside the subset or a column not in ``columns``.
    """
    if not isinstance(text, str):
        raise RuleError(f"a rule is a string, got {type(text).__name__}")
    if len(text) > MAX_RULE_LENGTH:
        raise RuleError(f"{len(text)} characters, longer than the limit of {MAX_RULE_LENGTH}")
    return frozenset(_Parser(text, columns).parse())
