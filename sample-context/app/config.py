"""Runtime settings for the sample app, read from the environment."""
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    app_name: str = os.environ.get("APP_NAME", "sample-context")
    version: str = "1.0.0"
    log_level: str = os.environ.get("LOG_LEVEL", "info")


settings = Settings()
