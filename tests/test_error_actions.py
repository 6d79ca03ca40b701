"""A 409 in the transition shape names the refused action in the request's language: every verb
phrase the code gives InvalidTransition (or a helper that passes it on) is a key of errors.ACTIONS,
which holds its translation; a phrase missing there would reach a Chinese user in English
("无法record a partial prepayment"). An f-string phrase cannot be looked up at all."""

from __future__ import annotations

import ast
from pathlib import Path

from fintech.errors import ACTIONS

ROOT = Path(__file__).resolve().parent.parent
# callables whose second positional argument is the action phrase
TAKES_ACTION = {"InvalidTransition", "of", "_require_open"}


def _callee(node: ast.Call) -> str:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute) and ast.unparse(node.func.value).endswith("InvalidTransition"):
        return node.func.attr
    return ""


def action_phrases_not_translated() -> list[str]:
    bad = []
    for path in sorted((ROOT / "fintech").rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not (isinstance(node, ast.Call) and _callee(node) in TAKES_ACTION and len(node.args) >= 2):
                continue
            phrase = node.args[1]
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            if isinstance(phrase, ast.JoinedStr):
                bad.append(f"{where}: an f-string action phrase")
            elif isinstance(phrase, ast.Constant) and phrase.value not in ACTIONS:
                bad.append(f"{where}: {phrase.value!r} is not in errors.ACTIONS")
    return bad


def test_every_action_phrase_given_to_a_transition_error_is_translated():
    assert action_phrases_not_translated() == []


def test_the_scan_sees_the_phrases_it_checks():
    # the services refuse these actions by name: the scan must reach them (not pass on finding none)
    tree = ast.parse((ROOT / "fintech/services/collateral.py").read_text())
    phrases = {
        n.args[1].value
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and _callee(n) in TAKES_ACTION and len(n.args) >= 2
        if isinstance(n.args[1], ast.Constant)
    }
    assert {"pay an annual fee", "request a revaluation", "record a partial prepayment"} <= phrases
