"""Splitting a generated script into the statements an engine runs one by one."""

from __future__ import annotations


def split_statements(script: str, dialect: str = "spark") -> list[str]:
    """Split a script into statements with the engine's own tokenizer (';' inside a string literal or
    a quoted name is not a boundary). Each statement runs from its first token to its last, so comments
    between statements are dropped and comments inside one are kept."""
    from sqlglot.dialects.dialect import Dialect
    from sqlglot.tokens import TokenType

    statements: list[str] = []
    first = last = None
    for token in Dialect.get_or_raise(dialect).tokenize(script):
        if token.token_type == TokenType.SEMICOLON:
            if first is not None and last is not None:
                statements.append(script[first.start:last.end + 1])
            first = last = None
            continue
        first = first or token
        last = token
    if first is not None and last is not None:
        statements.append(script[first.start:last.end + 1])
    return statements
