"""The rules of the platform over the database: keyword-only functions that routers and the
worker call. Services raise :mod:`api.errors` domain errors; they never import routers.
"""
