"""Lines of a package: raw (``wc -l`` of every ``.py``) and code only (without docstrings,
comments and blank lines: what Python's tokenizer sees as code, less the docstrings
``ast`` finds), in all and per module, largest first::

    python benchmarks/bench_core_size.py pasta_core
"""

from __future__ import annotations

import ast
import io
import sys
import tokenize
from pathlib import Path

SKIP = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}


def docstring_lines(tree: ast.AST) -> set[int]:
    """The line numbers of every module, class and function docstring."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                lines.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    return lines


def code_lines(source: str) -> int:
    """How many lines of ``source`` hold code."""
    docs = docstring_lines(ast.parse(source))
    lines: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in SKIP:
            lines.update(n for n in range(token.start[0], token.end[0] + 1) if n not in docs)
    return len(lines)


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "pasta_core")
    rows = []
    for path in sorted(root.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        rows.append((len(source.splitlines()), code_lines(source), path))
    for raw, code, path in sorted(rows, key=lambda r: r[0], reverse=True):
        print(f"{raw:6d} {code:6d}  {path}")
    print(f"{sum(r[0] for r in rows):6d} {sum(r[1] for r in rows):6d}  {root} (raw, code only)")


if __name__ == "__main__":
    main()
