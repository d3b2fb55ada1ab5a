"""The web pages (dispatch console, monitoring centre) over the JSON API: see ``pages``."""
