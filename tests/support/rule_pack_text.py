"""The English sentences of the shipped rule pack, to prove a Swahili notice or report holds none."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sentinel.notify.responses import RuleTexts


def english_sentences(rules: Iterable[Any], texts: RuleTexts) -> set[str]:
    """Every English sentence (or title) the rule pack holds: titles, descriptions, false positives,
    and the English response texts. Fragments under 20 characters (product names) are left out."""
    found: set[str] = set()

    def add(text: str) -> None:
        for sentence in re.split(r"(?<=[.!?:;])\s+", " ".join(text.split())):
            sentence = sentence.strip(" .;:")
            if len(sentence) >= 20 and " " in sentence:
                found.add(sentence)

    for rule in rules:
        add(rule.title)
        add(rule.description)
        for fp in getattr(rule.definition, "falsepositives", ()) or ():
            add(str(fp))
    for text in texts.by_id.values():
        if text.response is not None:
            en = text.response.en
            for part in (en.name, en.description, *en.steps, *en.account_steps):
                for piece in re.split(r"\{[a-z]+\}", part):
                    add(piece)
    return found
