"""``sentinel rules import``: a validation report (loaded, refused with reasons) and a warm cache after."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from sentinel.cli import app
from sentinel.config import load_settings
from sentinel.detect.engine.rule_loading import load_rules, rule_cache
from sentinel.detect.matching.compiled import compile_rule
from sentinel.detect.rulebook.pack import pack_from_settings

KEYWORDS = """
title: Zerologon Exploitation Using Well-known Tools
id: 18f37338-b9bd-4117-a039-280c81f7a596
logsource: {service: system, product: windows}
detection:
    selection:
        EventID: [5805, 5723]
    keywords: [kali, mimikatz]
    condition: selection and keywords
level: critical
"""
IIS = """
title: Previously Installed IIS Module Was Removed
id: 9e1a1fdf-ee58-40ce-8e15-b66ca5a80e1f
logsource: {product: windows, service: iis-configuration}
detection:
    selection:
        EventID: 29
        Configuration|contains: '/system.webServer/modules/remove'
    condition: selection
level: low
"""
UNKNOWN_SOURCE = """
title: Something on a mainframe
id: 00000000-1111-4000-8000-000000000001
logsource: {product: zos, service: racf}
detection:
    selection: {EventID: 1}
    condition: selection
"""


def test_import_reports_loaded_and_refused_rules_and_leaves_the_cache_warm(tmp_path: Path) -> None:
    assert CliRunner().invoke(app, ["init", str(tmp_path)]).exit_code == 0
    config = tmp_path / "sentinel.yaml"
    config.write_text(config.read_text().replace("rules_dirs: []", "rules_dirs: [rules/]", 1))
    source = tmp_path / "sigma" / "windows"
    source.mkdir(parents=True)
    (source / "zerologon.yml").write_text(KEYWORDS)
    (source / "iis.yml").write_text(IIS)
    (source / "mainframe.yml").write_text(UNKNOWN_SOURCE)
    (source / "broken.yml").write_text("title: [unclosed\n")

    result = CliRunner().invoke(app, ["--config", str(config), "rules", "import", str(tmp_path / "sigma")])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "loaded 2 rule(s); refused 2 file(s)" in out
    assert f"refused: {source / 'mainframe.yml'}" in out and "is not one Sentinel collects" in out
    assert f"refused: {source / 'broken.yml'}" in out and "invalid YAML" in out
    assert "imported 2 file(s), refused 2" in out
    assert sorted(p.name for p in (tmp_path / "rules" / "windows").iterdir()) == ["iis.yml", "zerologon.yml"]

    settings = load_settings(config)
    cache = rule_cache(settings)
    assert cache is not None
    pack = load_rules(settings)
    ids = {r.id for r in pack.rules}
    assert {"18f37338-b9bd-4117-a039-280c81f7a596", "9e1a1fdf-ee58-40ce-8e15-b66ca5a80e1f"} <= ids
    # the imported copies (and the shipped pack, loaded once above) now come from the cache
    again = rule_cache(settings)
    assert again is not None
    pack_from_settings(settings, compiler=compile_rule, cache=again)
    assert again.misses == 0 and again.hits == len({r.path for r in pack.rules})
