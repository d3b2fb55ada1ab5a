"""QR codes as SVG, made on the server (segno): the TOTP enrolment's ``otpauth://`` URI for
an authenticator app to scan, so that no page needs a QR library or another host."""

from __future__ import annotations

import io

import segno


def svg(text: str, *, title: str = "", scale: int = 5) -> str:
    """``text`` as a standalone SVG document (black on white, a quiet zone of 4 modules,
    error correction M): fit for an ``<img>`` or a download."""
    code = segno.make(text, error="m", micro=False)
    out = io.BytesIO()
    code.save(
        out,
        kind="svg",
        scale=scale,
        border=4,
        dark="#000",
        light="#fff",
        xmldecl=False,
        svgns=True,
        title=title or None,
        nl=False,
    )
    return out.getvalue().decode("utf-8")
