from pathlib import Path

import pytest
import trustme

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


# smtp: TLS and the CA bundle --------------------------------------------------------------


@pytest.fixture
def ca_file(tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    return path


def test_smtp_ca_file_is_loaded_from_yaml_and_environment(tmp_path: Path, ca_file: Path) -> None:
    path = write(tmp_path, f"smtp:\n  security: starttls\n  port: 587\n  ca_file: {ca_file}\n")
    assert load_settings(path, environ={}).smtp.ca_file == ca_file
    other = tmp_path / "other.pem"
    other.write_bytes(ca_file.read_bytes())
    settings = load_settings(path, environ={"SENTINEL_SMTP__CA_FILE": str(other), "SENTINEL_SMTP__SECURITY": "ssl"})
    assert (settings.smtp.ca_file, settings.smtp.security) == (other, "ssl")
    assert load_settings(None, environ={}).smtp.ca_file is None  # default: the system's CAs


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("certs/ca.pem", "ca_file must be an absolute path"),
        ("{tmp}/missing.pem", "no such file"),
        ("{tmp}/not-pem.pem", "no PEM CA certificate in it"),
        ("{tmp}", "cannot be read"),
    ],
    ids=["relative", "missing", "not-pem", "directory"],
)
def test_smtp_ca_file_must_be_a_loadable_bundle(tmp_path: Path, value: str, message: str) -> None:
    (tmp_path / "not-pem.pem").write_text("this is not a certificate\n")
    path = write(tmp_path, f"smtp:\n  security: ssl\n  ca_file: {value.format(tmp=tmp_path)}\n")
    with pytest.raises(ConfigError, match=message) as info:
        load_settings(path, environ={})
    assert info.value.location is not None and info.value.location.line == 3
    assert "smtp.ca_file" in str(info.value)


@pytest.mark.parametrize(
    ("extra", "message"),
    [("username: soc", "username needs security: starttls or ssl"), ("ca_file: {ca}", "ca_file needs security")],
)
def test_smtp_login_and_ca_file_need_tls(tmp_path: Path, ca_file: Path, extra: str, message: str) -> None:
    path = write(tmp_path, f"smtp:\n  security: none\n  {extra.format(ca=ca_file)}\n")
    with pytest.raises(ConfigError, match=message):
        load_settings(path, environ={})
    # the same keys over TLS are fine
    ok = write(tmp_path, f"smtp:\n  security: starttls\n  {extra.format(ca=ca_file)}\n")
    assert load_settings(ok, environ={}).smtp.security == "starttls"
