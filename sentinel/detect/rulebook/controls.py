"""The control catalogue (``controls.yaml``): the security standard's controls as editable data.

The authority edits the YAML (ids, titles in English and Swahili, thresholds); nothing here is a
constant. ``coverage`` answers which rules evidence which control, for ``sentinel rules list``
and the monthly posture report.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sentinel.errors import ConfigError
from sentinel.yamlfile import YamlDocument, validation_error_to_config_error


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Title(_Strict):
    en: str = Field(min_length=1)
    sw: str = Field(min_length=1)


class Control(_Strict):
    id: str = Field(pattern=r"^[A-Z]{2,5}-\d{2}$")
    area: str
    title: Title
    sw_review: bool = False  # the Swahili title still needs a native speaker's translation
    requirement: str
    check: str
    basis: list[str] = []
    checkable: bool = True  # can Sentinel check it from logs or scans?
    thresholds: dict[str, Any] = {}
    proposed: list[str] = []  # thresholds that are Sentinel's proposal, not yet the authority's

    @property
    def tag(self) -> str:
        return f"sentinel.control.{self.id.lower()}"

    def title_in(self, language: str) -> str:
        return self.title.sw if language == "sw" else self.title.en


class Catalogue(_Strict):
    controls: list[Control]

    @field_validator("controls")
    @classmethod
    def _unique(cls, values: list[Control]) -> list[Control]:
        seen: set[str] = set()
        for control in values:
            if control.id in seen:
                raise ValueError(f"control id {control.id} is listed twice")
            seen.add(control.id)
        return values

    def get(self, control_id: str) -> Control | None:
        wanted = control_id.upper()
        return next((c for c in self.controls if c.id == wanted), None)


def default_controls_path() -> Path:
    return Path(str(resources.files("sentinel.detect") / "controls.yaml"))


def load_controls(path: str | Path | None = None) -> Catalogue:
    doc = YamlDocument.load(path or default_controls_path())
    if not isinstance(doc.data, dict):
        raise ConfigError("the control catalogue must be a mapping with a 'controls' list", doc.location(()))
    try:
        return Catalogue.model_validate(doc.data)
    except ValidationError as exc:
        raise validation_error_to_config_error(doc, exc) from exc


def coverage(catalogue: Catalogue, rules: Iterable[Any]) -> dict[str, list[str]]:
    """Control id → ids of the rules tagged with it (every catalogue control present, maybe empty)."""
    out: dict[str, list[str]] = {c.id: [] for c in catalogue.controls}
    for rule in rules:
        for control_id in rule.controls:
            out.setdefault(control_id, []).append(rule.id)
    return out
