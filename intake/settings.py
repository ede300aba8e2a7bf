"""One settings object, read from the environment (and an optional .env file)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Everything deployment-specific. Secrets come only from the environment."""

    model_config = SettingsConfigDict(env_file=".env", env_prefix="", extra="ignore")

    data_dir: Path = Field(
        default=PROJECT_ROOT / "data", description="Where the SQLite file and uploads live"
    )
    database_url: str = Field(default="", description="SQLAlchemy URL; empty means SQLite in data_dir")
    policy: str = Field(default="code-default", description="Landlord policy name or path to a TOML file")
    public_base_url: str = Field(default="http://127.0.0.1:8000", description="URL the public reaches us on")
    secret_key: SecretStr = Field(default=SecretStr(""), description="Signs sessions and tokens")

    twilio_account_sid: str = ""
    twilio_auth_token: SecretStr = SecretStr("")
    twilio_from_number: str = ""
    twilio_messaging_service_sid: str = ""
    twilio_api_base_url: str = Field(default="", description="Override Twilio's API host (tests, proxies)")
    twilio_webhook_url: str = Field(
        default="", description="Public URL Twilio signs; default public_base_url + path"
    )
    sms_replies_from_worker: bool = Field(
        default=True,
        description=(
            "The SMS webhook only stores each text and answers Twilio at once; the conversation worker "
            "(`triage worker`, or the one inside `triage run`) replies a moment later through the outbox. "
            "false: work out the reply inside the webhook request (slower under load)."
        ),
    )

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = False
    mail_from: str = "complaints@example-housing.org.uk"
    mail_domain: str = "example-housing.org.uk"
    inbound_mail_token: SecretStr = SecretStr("")
    smtp_listen_host: str = "127.0.0.1"
    smtp_listen_port: int = 8025

    webhook_urls: str = Field(default="", description="Comma-separated URLs for case events")
    webhook_secret: SecretStr = SecretStr("")

    max_message_chars: int = 20_000
    max_attachment_bytes: int = 15 * 1024 * 1024
    max_email_bytes: int = 30 * 1024 * 1024
    public_rate_limit_per_minute: int = 30
    login_rate_limit_per_minute: int = 10
    secure_cookies: bool = True

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'triage.db'}"

    @property
    def twilio_credentials_set(self) -> bool:
        """Both the account SID and the auth token are set (needed to send texts and fetch media)."""
        return bool(self.twilio_account_sid and self.twilio_auth_token.get_secret_value())

    def secret(self) -> bytes:
        """The signing key. A random one is generated and kept in data_dir when none is configured."""
        value = self.secret_key.get_secret_value()
        if value:
            return value.encode()
        key_file = self.data_dir / "secret.key"
        if not key_file.exists():
            import secrets

            self.data_dir.mkdir(parents=True, exist_ok=True)
            key_file.write_text(secrets.token_urlsafe(48))
            key_file.chmod(0o600)
        return key_file.read_text().strip().encode()


@lru_cache
def get_settings() -> Settings:
    return Settings()
