"""Configuration: ``config.toml``, then environment variables, validated once.

Precedence, highest first: values passed in code, ``PIALARA_<SECTION>__<KEY>``
environment variables (``PIALARA_MONGODB__URI``), ``MONGODB_URI`` for the
connection string, the TOML file, the defaults below. Unknown keys and wrong
types are errors.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_ENV = "PIALARA_CONFIG"
DEFAULT_CONFIG = Path("config.toml")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    max_body_bytes: int = Field(1_048_576, gt=0)
    cors_origins: list[str] = ["*"]
    shutdown_timeout: float = Field(10.0, gt=0)
    access_log: bool = True
    # A compiled single-page front-end (e.g. MFlix's React build) served at "/".
    frontend_dir: Path | None = None
    # Service processes of `serve` (0: one per CPU, one on the embedded database).
    workers: int = Field(0, ge=0, le=64)
    # Set by `serve --workers` for each worker: its number, and SO_REUSEPORT.
    worker: int = Field(0, ge=0)
    reuse_port: bool = False
    # gc.set_threshold() of the serving process (see config.toml).
    gc_thresholds: tuple[NonNegativeInt, NonNegativeInt, NonNegativeInt] = (50_000, 50, 1_000)


class MongoSettings(Section):
    uri: str = ""
    database: str = Field("sample_mflix", min_length=1, pattern=r"^[^/\\. \"$]+$")
    driver: Literal["motor", "pymongo"] = "motor"
    max_pool_size: int = Field(50, gt=0)
    wtimeout_ms: int = Field(2500, gt=0)
    server_selection_timeout_ms: int = Field(5000, gt=0)
    connect_timeout_ms: int = Field(5000, gt=0)
    timeout_ms: int = Field(10_000, ge=0)
    appname: str = "pialara-async"
    retry_writes: bool = True

    @property
    def embedded(self) -> bool:
        return not self.uri


class EmbeddedSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(0, ge=0, le=65535)
    replica_set: str = Field("pialara", min_length=1)
    history_size: int = Field(10_000, gt=0)
    startup_timeout: float = Field(30.0, gt=0)


# HS256 keys shorter than the hash (32 bytes) weaken the signature (RFC 7518 3.2).
MIN_SECRET_BYTES = 32


class AuthSettings(Section):
    secret_key: SecretStr = SecretStr("")
    token_ttl_minutes: int = Field(60 * 24, gt=0)
    test_mode: bool = False
    # argon2id's cost for new password hashes (security/passwords.py).
    argon2_memory_kib: int = Field(65536, ge=64, le=4 * 1024 * 1024)
    argon2_time_cost: int = Field(3, ge=1, le=100)

    @field_validator("secret_key")
    @classmethod
    def long_enough(cls, value: SecretStr) -> SecretStr:
        key = value.get_secret_value()
        if key and len(key.encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"must be at least {MIN_SECRET_BYTES} bytes (or empty: generated)")
        return value


def _rate(value: str) -> str:
    """A rate in the ``limits`` library's notation: ``10/minute``, ``5 per second``..."""
    from limits import parse

    try:
        parse(value)
    except ValueError:
        raise ValueError(f"not a rate such as '10/minute': {value!r}") from None
    return value


Rate = Annotated[str, AfterValidator(_rate)]


class LimitsSettings(Section):
    login_per_address: Rate = "30/minute"
    login_per_account: Rate = "10/minute"
    register_per_address: Rate = "30/hour"
    websockets_per_address: Rate = "60/minute"
    messages_per_websocket: Rate = "20/second"


class StatsSettings(Section):
    refresh_minutes: float = Field(10.0, gt=0)


class LogSettings(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"


class _MongoUriSource(PydanticBaseSettingsSource):
    """``MONGODB_URI``, the variable every MongoDB tool understands."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        uri = os.environ.get("MONGODB_URI")
        return {"mongodb": {"uri": uri}} if uri else {}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PIALARA_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    data_dir: Path = Path(".pialara")
    server: ServerSettings = ServerSettings()
    mongodb: MongoSettings = MongoSettings()
    embedded: EmbeddedSettings = EmbeddedSettings()
    auth: AuthSettings = AuthSettings()
    limits: LimitsSettings = LimitsSettings()
    stats: StatsSettings = StatsSettings()
    log: LogSettings = LogSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = _config_path()
        sources: list[PydanticBaseSettingsSource] = [
            init_settings,
            env_settings,
            _MongoUriSource(settings_cls),
        ]
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    def with_overrides(self, **sections: dict[str, Any]) -> Settings:
        """A copy with some keys of some sections replaced (validated again)."""
        data = self.model_dump()
        for section, values in sections.items():
            if isinstance(data.get(section), dict):
                data[section] = {**data[section], **values}
            else:
                data[section] = values
        data["auth"]["secret_key"] = self.auth.secret_key
        return Settings.model_validate(data)


# Set by ``load_settings`` for the duration of one load: pydantic-settings asks
# for sources on the class, so the file to read is passed this way.
_config_file: Path | None = None


def _config_path() -> Path | None:
    path = _config_file
    if path is None:
        env = os.environ.get(CONFIG_ENV)
        path = Path(env) if env else DEFAULT_CONFIG
    return path if path.is_file() else None


class ConfigError(Exception):
    """Bad configuration, worded for one line of terminal output."""


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Load and validate the configuration; ``ConfigError`` explains what is wrong."""
    global _config_file
    if config_file is not None and not config_file.is_file():
        raise ConfigError(f"config file not found: {config_file}")
    _config_file = config_file
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise ConfigError(describe_validation_error(error)) from None
    except (OSError, ValueError) as error:  # unreadable or malformed TOML
        raise ConfigError(f"cannot read configuration: {error}") from None
    finally:
        _config_file = None


def describe_validation_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "configuration"
    if first["type"] == "extra_forbidden":
        message = f"unknown key {where}"
    else:
        message = f"{where}: {first['msg']} (got {first.get('input')!r})"
    more = len(error.errors()) - 1
    return f"invalid configuration: {message}" + (f" (+{more} more)" if more else "")


SECRET_FILE = "secret_key"


def token_secret(settings: Settings) -> str:
    """The token signing key: configured, or generated once into the data directory."""
    configured = settings.auth.secret_key.get_secret_value()
    if configured:
        return configured
    path = settings.data_dir / SECRET_FILE
    if path.is_file():
        key = path.read_text().strip()
        if len(key.encode()) < MIN_SECRET_BYTES:
            raise ConfigError(f"the signing key in {path} is shorter than {MIN_SECRET_BYTES} "
                              "bytes: delete the file to have one generated, or set "
                              "auth.secret_key")
        return key
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # Created with owner-only permissions before anything is written to it.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key

# The validated settings, on the application.
SETTINGS = web.AppKey("settings", Settings)
