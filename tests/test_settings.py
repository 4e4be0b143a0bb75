"""Configuration: file, environment, MONGODB_URI, errors, the signing key."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from pialara_async.settings import ConfigError, load_settings, token_secret

REPO_CONFIG = Path(__file__).parent.parent / "config.toml"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("PIALARA_") or name == "MONGODB_URI":
            monkeypatch.delenv(name)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.mongodb.uri == ""
    assert settings.mongodb.embedded
    assert settings.mongodb.max_pool_size == 50
    assert settings.mongodb.wtimeout_ms == 2500
    assert settings.mongodb.driver == "motor"
    assert settings.server.port == 8080


def test_repository_config_file_states_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_settings(REPO_CONFIG) == load_settings()


def test_file_then_environment_then_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, '[mongodb]\nmax_pool_size = 10\ndatabase = "from_file"\n')
    assert load_settings(path).mongodb.max_pool_size == 10
    monkeypatch.setenv("PIALARA_MONGODB__MAX_POOL_SIZE", "20")
    settings = load_settings(path)
    assert settings.mongodb.max_pool_size == 20
    assert settings.mongodb.database == "from_file"
    assert load_settings(path, mongodb={"max_pool_size": 30}).mongodb.max_pool_size == 30


def test_gc_thresholds_from_file_and_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "[server]\ngc_thresholds = [700, 10, 10]\n")
    assert load_settings(path).server.gc_thresholds == (700, 10, 10)
    monkeypatch.setenv("PIALARA_SERVER__GC_THRESHOLDS", "[1000, 20, 30]")
    assert load_settings(path).server.gc_thresholds == (1000, 20, 30)


def test_mongodb_uri_is_honoured_below_the_prefixed_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MONGODB_URI", "mongodb://db.example:27017/?replicaSet=rs0")
    assert load_settings().mongodb.uri == "mongodb://db.example:27017/?replicaSet=rs0"
    assert not load_settings().mongodb.embedded
    monkeypatch.setenv("PIALARA_MONGODB__URI", "mongodb://other:27017")
    assert load_settings().mongodb.uri == "mongodb://other:27017"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[mongodb]\nbogus = 1\n", "unknown key mongodb.bogus"),
        ("nonsense = true\n", "unknown key nonsense"),
        ('[mongodb]\nmax_pool_size = "many"\n', "mongodb.max_pool_size"),
        ('[mongodb]\ndriver = "pymongo2"\n', "mongodb.driver"),
        ("[server]\nport = 70000\n", "server.port"),
        ("[server]\ngc_thresholds = [700, 10]\n", "server.gc_thresholds"),
        ("[server]\ngc_thresholds = [700, -1, 10]\n", "server.gc_thresholds"),
        ("[mongodb\n", "cannot read configuration"),
    ],
)
def test_bad_configuration_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(write(tmp_path, text))
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_missing_named_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "absent.toml")


def test_signing_key_is_generated_once_with_owner_only_permissions(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data")
    first = token_secret(settings)
    assert len(first) >= 32
    path = tmp_path / "data" / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert token_secret(settings) == first
    other = load_settings(data_dir=tmp_path / "other")
    assert token_secret(other) != first


def test_signing_key_from_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIALARA_AUTH__SECRET_KEY", "k" * 40)
    settings = load_settings(data_dir=tmp_path)
    assert token_secret(settings) == "k" * 40
    assert not (tmp_path / "secret_key").exists()
    assert "k" * 40 not in repr(settings)


def test_command_line_reports_bad_configuration_with_exit_code_2(tmp_path: Path) -> None:
    path = write(tmp_path, "[mongodb]\nmax_pool_size = -1\n")
    result = subprocess.run(
        [sys.executable, "-m", "pialara_async", "--config", str(path), "check"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "mongodb.max_pool_size" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("content", ["", "\n", "short key\n", "x" * 31])
def test_a_short_or_empty_key_file_is_refused(tmp_path: Path, content: str) -> None:
    (tmp_path / "secret_key").write_text(content)
    with pytest.raises(ConfigError, match="shorter than 32 bytes"):
        token_secret(load_settings(data_dir=tmp_path))


def test_a_short_configured_key_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIALARA_AUTH__SECRET_KEY", "k" * 31)
    with pytest.raises(ConfigError, match=r"auth\.secret_key"):
        load_settings(data_dir=tmp_path)


def test_a_rate_the_library_cannot_read_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"limits\.login_per_address"):
        load_settings(write(tmp_path, '[limits]\nlogin_per_address = "often"\n'))
