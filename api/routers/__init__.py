"""The API's resources, one module each, mounted under /api/v1."""
