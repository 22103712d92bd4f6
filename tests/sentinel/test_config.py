from pathlib import Path

import pytest

from sentinel.config import load_settings
from sentinel.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sentinel.yaml"
    path.write_text(text)
    return path


def test_defaults_without_a_file() -> None:
    settings = load_settings(None, environ={})
    assert settings.store.backend == "sqlite"
    assert settings.timezone == "Africa/Dar_es_Salaam"


def test_unknown_key_names_file_line_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, "data_dir: ./d\nstore:\n  backend: sqlite\n  retension_days: 30\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    err = info.value
    assert err.location is not None
    assert err.location.path == str(path)
    assert err.location.line == 4
    assert err.location.key == "store.retension_days"
    assert "unknown key" in str(err)


def test_bad_value_points_at_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path, "listeners:\n  syslog:\n    - {protocol: udp, port: 5514}\n    - {protocol: sctp, port: 1}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    assert info.value.location is not None
    assert info.value.location.line == 4
    assert "listeners.syslog[1].protocol" in str(info.value)


def test_invalid_yaml_reports_line(tmp_path: Path) -> None:
    path = write(tmp_path, "store:\n  backend: sqlite\n   bad: [\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    assert "invalid YAML" in str(info.value)
    assert info.value.location is not None and info.value.location.line is not None


def test_duplicate_key_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "timezone: UTC\ntimezone: Africa/Nairobi\n")
    with pytest.raises(ConfigError, match="duplicate key"):
        load_settings(path, environ={})


def test_unknown_timezone(tmp_path: Path) -> None:
    path = write(tmp_path, "timezone: Mars/Olympus\n")
    with pytest.raises(ConfigError, match="unknown time zone"):
        load_settings(path, environ={})


def test_environment_overrides_nested_keys(tmp_path: Path) -> None:
    path = write(tmp_path, "store:\n  backend: sqlite\n")
    settings = load_settings(
        path,
        environ={
            "SENTINEL_STORE__BACKEND": "elasticsearch",
            "SENTINEL_STORE__ELASTICSEARCH__URL": "https://es.internal:9200",
            "SENTINEL_API__PORT": "9090",
            "SENTINEL_TEST_DATA": "/not/a/setting",
        },
    )
    assert settings.store.backend == "elasticsearch"
    assert settings.store.elasticsearch.url == "https://es.internal:9200"
    assert settings.api.port == 9090


def test_bad_environment_override_names_the_variable(tmp_path: Path) -> None:
    path = write(tmp_path, "store:\n  backend: sqlite\n")
    with pytest.raises(ConfigError, match="SENTINEL_STORE__BACKEND"):
        load_settings(path, environ={"SENTINEL_STORE__BACKEND": "mongodb"})


def test_relative_paths_resolve_against_the_config_file(tmp_path: Path) -> None:
    path = write(tmp_path, "data_dir: ./data\ninventory: inv.yaml\n")
    settings = load_settings(path, environ={})
    assert settings.resolved_data_dir() == tmp_path / "data"
    assert settings.inventory_path() == tmp_path / "inv.yaml"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(tmp_path / "nope.yaml", environ={})
