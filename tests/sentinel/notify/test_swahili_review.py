"""Every Swahili string is either a term of the glossary (REFERENCE-controls.md) or marked "# REVIEW" for a
native speaker, in every file that holds Swahili: notices, reports, and the rules' response sections."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import PROJECT_ROOT

# The Swahili column of the glossary, and the proposed [P] terms (severity names, monthly report).
GLOSSARY = {
    "tehama", "mamlaka ya serikali mtandao", "viwango na miongozo ya serikali mtandao", "taasisi ya umma",
    "taasisi za umma", "taasisi", "tukio", "matukio", "tukio la usalama", "matukio ya usalama", "kutoa taarifa",
    "kuripoti", "tahadhari", "angalizo", "udhaifu", "tathmini ya udhaifu", "uvunjifu wa usalama",
    "haraka iwezekanavyo", "taarifa binafsi", "kujaribu kuingia bila idhini", "kunyimwa huduma", "udukuzi",
    "wadukuzi", "mashambulizi ya kimtandao", "nenosiri", "nywila", "uthibitishaji wa vipengele vingi",
    "baruapepe rasmi za serikali", "uvujaji wa taarifa", "ukaguzi", "vituo vya kuhifadhia data vya serikali",
    "dharura", "juu", "kati", "chini", "taarifa ya kila mwezi",
}  # fmt: skip
EXEMPT_KEYS = {"language_name"}
I18N = [
    PROJECT_ROOT / "sentinel" / "notify" / "i18n" / "sw.yaml",
    PROJECT_ROOT / "dashboards" / "reports" / "i18n" / "sw.yaml",
]
RULES = sorted((PROJECT_ROOT / "sentinel" / "detect" / "rules").glob("*.yml"))


def _scalars(node: yaml.Node, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], yaml.ScalarNode]]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield from _scalars(value, (*path, str(key.value)))
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _scalars(item, path)
    elif isinstance(node, yaml.ScalarNode) and node.value:
        yield path, node


def _unmarked(path: Path, in_swahili: object) -> list[str]:
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    found = []
    for document in yaml.compose_all(text, Loader=yaml.SafeLoader):
        if document is None:
            continue
        for key_path, node in _scalars(document, ()):
            if not in_swahili(key_path) or key_path[-1] in EXEMPT_KEYS:  # type: ignore[operator]
                continue
            if " ".join(node.value.split()).lower().strip(".") in GLOSSARY:
                continue
            if node.style in ("|", ">"):  # a block: the mark follows it
                after = next((ln for ln in lines[node.end_mark.line :] if ln.strip()), "")
                marked = "REVIEW" in after
            else:
                marked = "REVIEW" in lines[node.start_mark.line]
            if not marked:
                found.append(f"{path.name}:{node.start_mark.line + 1} {node.value[:60]!r}")
    return found


@pytest.mark.parametrize("path", I18N, ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_swahili_strings_are_glossary_terms_or_marked_for_review(path: Path) -> None:
    assert _unmarked(path, lambda key_path: True) == []


def test_swahili_response_sections_are_marked_for_review() -> None:
    unmarked = [u for path in RULES for u in _unmarked(path, lambda kp: kp[:2] == ("response", "sw"))]
    assert unmarked == []
    assert len(RULES) >= 40
