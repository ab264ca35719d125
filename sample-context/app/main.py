"""Tiny FastAPI app used as the ctxray tutorial's sample build context."""
from fastapi import FastAPI

from app.config import settings

app = FastAPI(title=settings.app_name, version=settings.version)


@app.get("/")
def read_root() -> dict[str, str]:
    return {"message": "Hello from a multi-stage build!", "version": settings.version}


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}
