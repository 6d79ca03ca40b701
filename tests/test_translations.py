"""The Chinese catalogue is complete and compiled: no untranslated or fuzzy entry in
locale/zh_Hans/LC_MESSAGES/django.po, every message the code marks for translation is in it (a
fresh `makemessages` into a temporary folder finds nothing more), placeholders agree (msgfmt -c),
and the committed django.mo holds exactly what the .po says.

To add a string: wrap it (gettext / pgettext with a context for a homonym), then
`python manage.py makemessages -l zh_Hans --ignore .venv --ignore 'tests/*' --ignore 'bench/*'
--no-obsolete`, translate, and `python manage.py compilemessages -l zh_Hans --ignore .venv`."""

from __future__ import annotations

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
    ],
)
def test_the_labels_once_left_in_english_are_chinese(context, msgid, zh):
    from django.utils import translation

    with translation.override("zh-hans"):
        shown = translation.pgettext(context, msgid) if context else translation.gettext(msgid)
    assert shown == zh
