"""valuation is a leaf app: it imports nothing from fintech, yet rounds exactly as fintech.money."""

import ast
from decimal import Decimal
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

import valuation
from valuation.decimals import round_fen

VALUATION_DIR = Path(valuation.__file__).parent


def test_valuation_imports_nothing_from_fintech():
    imported = set()
    for path in VALUATION_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)

    assert not {name for name in imported if name.split(".")[0] == "fintech"}


def test_round_fen_half_up_examples():
    # 0.005 -> 0.01 and 0.015 -> 0.02 (half-even would give 0.00 and 0.02), 2.675 -> 2.68
    assert round_fen(Decimal("0.005")) == Decimal("0.01")
    assert round_fen(Decimal("0.015")) == Decimal("0.02")
    assert round_fen(Decimal("2.675")) == Decimal("2.68")
    assert round_fen(Decimal("2.674999")) == Decimal("2.67")


@given(st.decimals(min_value=0, max_value=Decimal("1e12"), places=6, allow_nan=False, allow_infinity=False))
def test_round_fen_agrees_with_fintech_money(value):
    from fintech.money import round_fen as money_round_fen

    assert round_fen(value) == money_round_fen(value)
