"""The Chinese catalogue is complete and compiled: no untranslated or fuzzy entry in
locale/zh_Hans/LC_MESSAGES/django.po, every message the code marks for translation is in it (a
fresh `makemessages` into a temporary folder finds nothing more), placeholders agree (msgfmt -c),
and the committed django.mo holds exactly what the .po says.

To add a string: wrap it (gettext / pgettext with a context for a homonym), then
`python manage.py makemessages -l zh_Hans --ignore .venv --ignore 'tests/*' --ignore 'bench/*'
--no-obsolete`, translate, and `python manage.py compilemessages -l zh_Hans --ignore .venv`."""

from __future__ import annotations

import ast
import gettext
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

ROOT = Path(settings.BASE_DIR)
PO = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")

needs_msgfmt = pytest.mark.skipif(
    shutil.which("msgfmt") is None, reason="GNU gettext (msgfmt) is not installed"
)


def _unquote(lines: str) -> str:
    return "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', lines)).replace('\\"', '"').replace("\\n", "\n")


def entries(path: Path) -> list[dict[str, object]]:
    """The entries of a .po file: context, msgid, the msgstr (all plural forms) and the flags."""
    found = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        if block.lstrip().startswith("#~"):
            continue  # obsolete
        flags = " ".join(line for line in block.splitlines() if line.startswith("#,"))
        body = "\n".join(line for line in block.splitlines() if not line.startswith("#"))
        msgid = re.search(r'^msgid ((?:".*"\n?)+)', body + "\n", re.M)
        if msgid is None:
            continue
        ctx = re.search(r'^msgctxt ((?:".*"\n?)+)', body + "\n", re.M)
        strs = re.findall(r'^msgstr(?:\[\d+\])? ((?:".*"\n?)+)', body + "\n", re.M)
        found.append(
            {
                "context": _unquote(ctx.group(1)) if ctx else "",
                "msgid": _unquote(msgid.group(1)),
                "msgstr": [_unquote(s) for s in strs],
                "fuzzy": "fuzzy" in flags,
            }
        )
    return [e for e in found if e["msgid"]]  # not the header


def test_every_entry_is_translated_and_none_is_fuzzy():
    catalogue = entries(PO)
    assert len(catalogue) > 600
    untranslated = [e["msgid"] for e in catalogue if not all(e["msgstr"])]  # type: ignore[attr-defined]
    fuzzy = [e["msgid"] for e in catalogue if e["fuzzy"]]
    assert untranslated == []
    assert fuzzy == []


@needs_msgfmt
def test_every_marked_string_of_the_code_is_in_the_catalogue(tmp_path, settings):
    # makemessages over a copy of the code (the repository's locale folder is not touched), into
    # an empty temporary locale folder
    code = tmp_path / "code"
    for package in ("config", "fintech", "valuation"):
        shutil.copytree(ROOT / package, code / package, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path / "out"
    (out / "zh_Hans" / "LC_MESSAGES").mkdir(parents=True)
    settings.LOCALE_PATHS = [str(out)]
    here = Path.cwd()
    os.chdir(code)
    try:
        call_command("makemessages", locale=["zh_Hans"], no_obsolete=True, verbosity=0)
    finally:
        os.chdir(here)
    fresh = {(e["context"], e["msgid"]) for e in entries(out / "zh_Hans" / "LC_MESSAGES" / "django.po")}
    assert len(fresh) > 600  # the copy was read
    committed = {(e["context"], e["msgid"]) for e in entries(PO)}
    assert sorted(fresh - committed) == []  # marked in the code, missing from the catalogue
    assert sorted(committed - fresh) == []  # in the catalogue, used nowhere any more


@needs_msgfmt
def test_placeholders_agree_and_the_committed_mo_is_the_compiled_po(tmp_path):
    compiled = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "--check-format", "-o", str(compiled), str(PO)], check=True)
    with compiled.open("rb") as fresh, MO.open("rb") as committed:
        assert gettext.GNUTranslations(committed)._catalog == gettext.GNUTranslations(fresh)._catalog  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("context", "msgid", "zh"),
    [
        ("", "programme", "融资项目"),
        ("", "started by", "发起人"),
        ("", "created at", "创建时间"),
        ("", "approved by", "审批人"),
        ("", "declared by", "认定人"),
        ("", "payer", "付款方"),
        # one word per term: a lapse is 失效 (终止 is Terminated, a final state), a loss settlement
        # is 赔付 (the risk pool's admin), the value date is 起息日
        ("", "Lapsed (annual fee unpaid)", "失效（未缴年费）"),  # noqa: RUF001
        ("", "Patent lapsed or invalidated", "专利权失效或被宣告无效"),
        ("", "haircut, lapsed, invalidated or expired", "折扣率（失效、无效或届满）"),  # noqa: RUF001
        ("", "patent lapsed (annual fee unpaid)", "专利权失效（未缴年费）"),  # noqa: RUF001
        ("", "A restoration cannot precede the lapse.", "恢复不能早于失效。"),
        ("", "Terminated", "已终止"),
        ("", "Settlements", "赔付"),
        ("action on a record", "record a settlement", "登记赔付"),
        ("", "Settlement not found.", "未找到该赔付。"),
        ("", "value date", "起息日"),
        ("", "The loan already has a prepayment on this value date.", "该贷款在此起息日已有一笔提前还款。"),
    ],
)
def test_the_labels_once_left_in_english_are_chinese(context, msgid, zh):
    from django.utils import translation

    with translation.override("zh-hans"):
        shown = translation.pgettext(context, msgid) if context else translation.gettext(msgid)
    assert shown == zh


def test_a_term_has_one_chinese_word_throughout():
    # "lapse" is 失效 everywhere (终止 is the word of Terminated, a different and final state);
    # the risk pool's loss settlement is 赔付 (结算 nowhere: a loan's settlement is 结清); the value
    # date is 起息日 (入账日期 nowhere)
    catalogue = [(e["msgid"], "".join(e["msgstr"])) for e in entries(PO)]  # type: ignore[arg-type]
    lapse = [(i, s) for i, s in catalogue if re.search(r"\blaps", i, re.I)]
    assert len(lapse) >= 10
    assert [(i, s) for i, s in lapse if "失效" not in s or "终止" in s] == []
    assert [(i, s) for i, s in catalogue if "结算" in s] == []
    value_date = [(i, s) for i, s in catalogue if "value date" in i.lower()]
    assert len(value_date) >= 8
    assert [(i, s) for i, s in value_date if "起息日" not in s] == []
    assert [(i, s) for i, s in catalogue if "入账日期" in s] == []


# --- user-facing errors are marked for translation ------------------------------------------------

# DRF's exceptions that become an error body, by name (Django's ValidationError shares the name).
DRF_ERRORS = {
    "APIException",
    "AuthenticationFailed",
    "MethodNotAllowed",
    "NotAcceptable",
    "NotAuthenticated",
    "NotFound",
    "ParseError",
    "PermissionDenied",
    "Throttled",
    "UnsupportedMediaType",
    "ValidationError",
}


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _untranslated(node: ast.expr | None) -> bool:
    """A string literal, an f-string, or text built from one (concatenation, % or .format), or a
    container holding one, that no gettext call wraps."""
    if node is None:
        return False
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and node.value != ""
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp):
        return _untranslated(node.left) or _untranslated(node.right)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        return _untranslated(node.func.value)
    if isinstance(node, ast.Dict):
        return any(_untranslated(v) for v in node.values)
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        return any(_untranslated(v) for v in node.elts)
    if isinstance(node, ast.IfExp):
        return _untranslated(node.body) or _untranslated(node.orelse)
    return False  # a gettext call, a name, anything computed


def _collectors(module: ast.Module) -> set[str]:
    """The names bound in a module to a field-error collector: an instance of a class of the module
    with an `add(field, message)` method (scenarios' `_Errors`), as a parameter annotated with the
    class or a variable assigned an instance of it."""
    classes = {
        node.name
        for node in module.body
        if isinstance(node, ast.ClassDef)
        and any(isinstance(item, ast.FunctionDef) and item.name == "add" for item in node.body)
    }
    names: set[str] = set()
    for node in ast.walk(module):
        if isinstance(node, ast.arg) and node.annotation is not None:
            annotation = node.annotation
            text = annotation.value if isinstance(annotation, ast.Constant) else _name(annotation)
            if text in classes:
                names.add(node.arg)
        elif (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and _name(node.value.func) in classes
        ):
            names.update(_name(t) for t in node.targets if _name(t))
    return names


def _bare_constants(module: ast.Module) -> set[str]:
    """Module-level names bound to a bare literal (or a container of them) that a message names."""
    return {
        _name(target)
        for node in module.body
        if isinstance(node, ast.Assign) and _untranslated(node.value)
        for target in node.targets
        if _name(target)
    }


def _bare(arg: ast.expr, constants: set[str]) -> bool:
    """A literal, or a module constant holding one (`ONLY_THE_BANK`, `_NOT_THE_PAYER[party]`)."""
    named = arg.value if isinstance(arg, ast.Subscript) else arg
    return _untranslated(arg) or (isinstance(named, ast.Name) and named.id in constants)


def _message_arguments(call: ast.Call, errors: set[str], collectors: set[str]) -> list[ast.expr]:
    """The arguments of an error's constructor (or of a call that becomes one) that reach the
    client as text."""
    name = _name(call.func)
    receiver = _name(call.func.value) if isinstance(call.func, ast.Attribute) else ""
    if name == "on" and receiver in errors | {"cls"}:
        positional = call.args[1:2]  # InvalidInput.on(field, message)
    elif name == "add" and receiver in collectors:
        positional = call.args[1:2]  # errors.add(field, message): a 400's field error
    elif name == "require_acts_for":
        positional = call.args[3:4]  # (actor, party, obj, message): the 403's message
    elif name == "InvalidTransition":
        positional = call.args[2:3]  # (current, action, message); the action is looked up in ACTIONS
    elif name == "ValuationInputError":
        positional = call.args[1:2]  # (field, message)
    elif name in errors | DRF_ERRORS:
        positional = call.args[:1]
    else:
        return []
    return positional + [k.value for k in call.keywords if k.arg in ("message", "detail", "fields")]


def untranslated_errors(root: Path, packages: tuple[str, ...]) -> list[str]:
    """file:line of every user-facing error built from text no gettext call wraps, and of every
    default message of an error class (or refusal of a DRF permission) not lazily translated."""
    tree = ast.parse((root / "fintech" / "errors.py").read_text(encoding="utf-8"))
    errors = {node.name for node in tree.body if isinstance(node, ast.ClassDef)} | {
        # the valuation's and the rules' errors whose message the API passes on
        "ValuationInputError",
        "InvalidIdentifier",
        "InvalidMoney",
        "InvalidPeriod",
    }
    found: list[tuple[str, int]] = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            module = ast.parse(path.read_text(encoding="utf-8"))
            collectors = _collectors(module)
            constants = _bare_constants(module)

            for node in ast.walk(module):
                bad: list[ast.AST] = []
                if isinstance(node, ast.Call):
                    bad = [
                        arg for arg in _message_arguments(node, errors, collectors) if _bare(arg, constants)
                    ]
                elif isinstance(node, ast.ClassDef):
                    # an error's default message, a DRF permission's refusal
                    names = {"default_message", "default_detail"}
                    if any("Permission" in _name(base) for base in node.bases):
                        names.add("message")
                    for item in node.body:
                        targets = item.targets if isinstance(item, ast.Assign) else []
                        if isinstance(item, ast.AnnAssign):
                            targets = [item.target]
                        if any(_name(t) in names for t in targets) and _untranslated(
                            getattr(item, "value", None)
                        ):
                            found.append((str(path.relative_to(root)), item.lineno))
                found += [(str(path.relative_to(root)), node.lineno) for _ in bad[:1]]
    return [f"{file}:{line}" for file, line in sorted(found)]


def test_every_user_facing_error_message_is_marked_for_translation():
    # the error classes of fintech/errors.py (and DRF's) raised with a bare literal or f-string
    # would answer English to a Chinese client; developer errors (ValueError, RuntimeError,
    # TypeError) and management commands' CommandError are not looked at
    assert untranslated_errors(ROOT, ("fintech", "valuation", "config")) == []


def test_the_scan_finds_a_bare_message(tmp_path):
    # given a service raising errors with a literal, an f-string, a field message and a default
    (tmp_path / "fintech").mkdir()
    (tmp_path / "fintech" / "errors.py").write_text(
        "class Conflict(Exception):\n    default_message = 'Busy.'\n"
        "class InvalidInput(Exception):\n    pass\n"
        "class Member(BasePermission):\n    message = 'Not active.'\n",
        encoding="utf-8",
    )
    (tmp_path / "fintech" / "service.py").write_text(
        "from django.utils.translation import gettext as _\n"
        "from rest_framework.exceptions import ValidationError\n"
        "def f(n):\n"
        "    raise Conflict(_('Fine %(n)s.') % {'n': n})\n"  # line 4: translated
        "    raise Conflict(f'Loan {n} is busy.')\n"  # line 5
        "    raise InvalidInput.on('amount', 'Too much.')\n"  # line 6
        "    raise InvalidInput(_('Bad.'), fields={'amount': ['Too much.']})\n"  # line 7
        "    raise ValidationError('Enter a date.')\n"  # line 8
        "    raise ValueError('chunk_size must be positive')\n",  # developer error: not looked at
        encoding="utf-8",
    )
    # and a service refusing with require_acts_for, collecting field errors, parsing money
    (tmp_path / "fintech" / "refusals.py").write_text(
        "ONLY = 'Only the bank.'\n"  # line 1
        "BY_PARTY = {'insurer': 'Only the insurer.'}\n"
        "FINE = _lazy('Only the bank.')\n"
        "class _Errors:\n"
        "    def add(self, name, message):\n"
        "        pass\n"
        "def g(actor, loan, errors: _Errors, n):\n"  # line 7
        "    require_acts_for(actor, 'bank', loan, 'Only the bank.')\n"  # line 8
        "    require_acts_for(actor, 'bank', loan, ONLY)\n"  # line 9
        "    require_acts_for(actor, 'bank', loan, BY_PARTY['insurer'])\n"  # line 10
        "    require_acts_for(actor, 'bank', loan, FINE)\n"  # line 11: translated
        "    require_acts_for(actor, 'bank', loan, message=f'No {n}.')\n"  # line 12
        "    errors.add('rate', 'Enter a fraction.')\n"  # line 13
        "    errors.add('rate', _('Must lie between %(low)s and %(high)s.') % {'low': 0, 'high': n})\n"
        "    found = _Errors()\n"  # line 15
        "    found.add('seed', f'At most {n}.')\n"  # line 16
        "    seen = set()\n"
        "    seen.add('not a message')\n"  # line 18: a set, not a collector
        "    raise InvalidMoney('Enter an amount.')\n",  # line 19
        encoding="utf-8",
    )

    # when it is scanned, then each bare message is named by file and line
    assert untranslated_errors(tmp_path, ("fintech",)) == [
        "fintech/errors.py:2",
        "fintech/errors.py:6",
        "fintech/refusals.py:8",
        "fintech/refusals.py:9",
        "fintech/refusals.py:10",
        "fintech/refusals.py:12",
        "fintech/refusals.py:13",
        "fintech/refusals.py:16",
        "fintech/refusals.py:19",
        "fintech/service.py:5",
        "fintech/service.py:6",
        "fintech/service.py:7",
        "fintech/service.py:8",
    ]
