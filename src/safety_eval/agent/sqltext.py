"""A light SQL reader: split scripts into statements and classify one statement.

This is not a parser. It tokenizes just enough (quotes, comments, parentheses) to find
statement boundaries, the leading verb, the object of a CREATE/DROP/ALTER and whether a
DELETE or UPDATE has a top-level WHERE clause. Which tables a statement really touches
comes from SQLite's authorizer, not from this module.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

_DML_VERBS = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "REPLACE", "VALUES"})
_TRIVIAL_WHERE = frozenset(
    {"1", "TRUE", "1=1", "1==1", "'1'='1'", "1<>0", "1!=0", "NOT0", "NOTFALSE"}
)


@dataclass(frozen=True)
class Token:
    """One lexical token; ``depth`` is the parenthesis depth it sits at."""

    kind: str  # "word", "ident", "string", "number", "punct"
    text: str
    depth: int
    start: int
    end: int

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else ""


def tokenize(sql: str) -> list[Token]:
    """Tokens of ``sql`` without whitespace and comments. Unterminated quotes run to the end."""
    tokens: list[Token] = []
    depth = 0
    i = 0
    n = len(sql)
    closers = {"'": "'", '"': '"', "`": "`", "[": "]"}
    while i < n:
        ch = sql[i]
        if ch.isspace():
            i += 1
        elif sql.startswith("--", i):
            nl = sql.find("\n", i)
            i = n if nl < 0 else nl + 1
        elif sql.startswith("/*", i):
            close = sql.find("*/", i + 2)
            i = n if close < 0 else close + 2
        elif ch in closers:
            close_ch = closers[ch]
            j = i + 1
            while j < n:
                if sql[j] == close_ch:
                    if close_ch != "]" and j + 1 < n and sql[j + 1] == close_ch:
                        j += 2
                        continue
                    break
                j += 1
            end = min(j + 1, n)
            kind = "string" if ch == "'" else "ident"
            tokens.append(Token(kind, sql[i:end], depth, i, end))
            i = end
        elif ch.isalpha() or ch == "_":
            j = i + 1
            while j < n and (sql[j].isalnum() or sql[j] in "_$"):
                j += 1
            tokens.append(Token("word", sql[i:j], depth, i, j))
            i = j
        elif ch.isdigit():
            j = i + 1
            while j < n and (sql[j].isalnum() or sql[j] == "."):
                j += 1
            tokens.append(Token("number", sql[i:j], depth, i, j))
            i = j
        else:
            if ch == ")":
                depth = max(0, depth - 1)
            tokens.append(Token("punct", ch, depth, i, i + 1))
            if ch == "(":
                depth += 1
            i += 1
    return tokens


def split_statements(script: str) -> list[str]:
    """Complete statements of ``script`` (trigger bodies stay whole); empty ones dropped."""
    statements: list[str] = []
    start = 0
    for token in tokenize(script):
        if token.kind == "punct" and token.text == ";":
            candidate = script[start : token.end]
            if sqlite3.complete_statement(candidate):
                if tokenize(candidate[:-1]):
                    statements.append(candidate.strip())
                start = token.end
    rest = script[start:]
    if tokenize(rest):
        statements.append(rest.strip())
    return statements


def unquote(name: str) -> str:
    """An identifier without its quotes."""
    if len(name) >= 2 and name[0] in '"`[' and name[-1] in '"`]':
        inner = name[1:-1]
        return inner.replace('""', '"') if name[0] == '"' else inner
    return name


@dataclass(frozen=True)
class StatementInfo:
    """What the light reader makes of one statement."""

    verb: str
    """The leading keyword (after any WITH clause), upper case; "" when there is none."""
    object_kind: str | None = None
    """TABLE, INDEX, VIEW or TRIGGER for CREATE and DROP; TABLE for ALTER."""
    target: str | None = None
    """The table (or object) the statement names first, without schema or quotes."""
    schema: str | None = None
    """The schema qualifier of ``target`` when there is one."""
    has_where: bool = False
    """A DELETE/UPDATE with a top-level WHERE that is not trivially true (WHERE 1=1)."""
    alter_action: str | None = None
    """For ALTER TABLE: ADD_COLUMN, DROP_COLUMN, RENAME_TABLE or RENAME_COLUMN."""


def _qualified_name(tokens: list[Token], index: int) -> tuple[str | None, str | None, int]:
    """(schema, name, next index) for the possibly qualified name at ``tokens[index]``."""
    if index >= len(tokens) or tokens[index].kind not in ("word", "ident", "string"):
        return None, None, index
    token = tokens[index]
    first = token.text[1:-1] if token.kind == "string" else unquote(token.text)
    if (
        index + 2 < len(tokens)
        and tokens[index + 1].text == "."
        and tokens[index + 2].kind
        in (
            "word",
            "ident",
        )
    ):
        return first, unquote(tokens[index + 2].text), index + 3
    return None, first, index + 1


def _skip_words(tokens: list[Token], index: int, words: set[str]) -> int:
    while index < len(tokens) and tokens[index].upper in words:
        index += 1
    return index


def classify(statement: str) -> StatementInfo:
    """Classify one statement (see :class:`StatementInfo`)."""
    tokens = tokenize(statement)
    if not tokens:
        return StatementInfo(verb="")
    index = 0
    verb = tokens[0].upper
    if verb == "WITH":
        for position, token in enumerate(tokens[1:], start=1):
            if token.depth == 0 and token.upper in _DML_VERBS:
                verb, index = token.upper, position
                break
    if verb == "EXPLAIN":
        return StatementInfo(verb="EXPLAIN")
    after = index + 1
    if verb in ("CREATE", "DROP"):
        position = _skip_words(tokens, after, {"TEMP", "TEMPORARY", "UNIQUE", "VIRTUAL"})
        kind = tokens[position].upper if position < len(tokens) else ""
        position = _skip_words(tokens, position + 1, {"IF", "NOT", "EXISTS"})
        schema, name, _ = _qualified_name(tokens, position)
        return StatementInfo(verb=verb, object_kind=kind or None, target=name, schema=schema)
    if verb == "ALTER":
        position = _skip_words(tokens, after, {"TABLE"})
        schema, name, position = _qualified_name(tokens, position)
        words = [token.upper for token in tokens[position : position + 2]]
        action = None
        if words[:1] == ["ADD"]:
            action = "ADD_COLUMN"
        elif words[:1] == ["DROP"]:
            action = "DROP_COLUMN"
        elif words[:2] == ["RENAME", "TO"]:
            action = "RENAME_TABLE"
        elif words[:1] == ["RENAME"]:
            action = "RENAME_COLUMN"
        return StatementInfo(
            verb=verb, object_kind="TABLE", target=name, schema=schema, alter_action=action
        )
    if verb in ("DELETE", "UPDATE", "INSERT", "REPLACE"):
        position = _skip_words(
            tokens, after, {"OR", "ROLLBACK", "ABORT", "FAIL", "IGNORE", "REPLACE", "FROM", "INTO"}
        )
        schema, name, position = _qualified_name(tokens, position)
        has_where = False
        if verb in ("DELETE", "UPDATE"):
            has_where = _has_real_where(tokens[position:])
        return StatementInfo(verb=verb, target=name, schema=schema, has_where=has_where)
    return StatementInfo(verb=verb)


def _has_real_where(tokens: list[Token]) -> bool:
    for position, token in enumerate(tokens):
        if token.depth == 0 and token.upper == "WHERE":
            condition: list[str] = []
            for follower in tokens[position + 1 :]:
                if follower.depth == 0 and follower.upper in ("RETURNING", "ORDER", "LIMIT"):
                    break
                condition.append(follower.text.upper())
            text = "".join(condition).strip("()")
            return bool(text) and text not in _TRIVIAL_WHERE
    return False
