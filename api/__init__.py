"""HTTP API (FastAPI): arrives with the platform-API issue."""
