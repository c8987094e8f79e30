"""Which image formats this installation decodes, and which files a listing reports.

Always: JPEG, PNG, WebP, TIFF and GIF (first frame). HEIC/HEIF when ``pillow-heif`` is installed;
AVIF when Pillow was built with it (Pillow >= 11.2) or ``pillow-avif-plugin`` is installed.
A listing also picks up other image files (SVG, BMP, HEIC without its plugin, ...), so each
gets an ``error`` row saying to convert it instead of vanishing silently.
"""

from __future__ import annotations

import logging

from PIL import Image, features

log = logging.getLogger(__name__)

_ALWAYS = {"JPEG": (".jpg", ".jpeg"), "PNG": (".png",), "WEBP": (".webp",), "TIFF": (".tif", ".tiff"),
           "GIF": (".gif",)}
_PLUGINS = {"HEIF": ((".heic", ".heif"), "pillow-heif"), "AVIF": ((".avif",), "pillow-avif-plugin")}
# Image files a shop may drop in that are never decoded here: listed so they get an error row.
OTHER_IMAGE_EXTENSIONS = (".svg", ".svgz", ".bmp", ".ico", ".psd", ".jxl", ".jp2", ".j2k", ".tga", ".qoi",
                          ".dng", ".cr2", ".nef", ".arw")


def _register_plugins() -> set[str]:
    """Register the optional decoders that are installed; the Pillow format names now usable."""
    found = set()
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
        found.add("HEIF")
    except ImportError:
        pass
    if features.check("avif"):
        found.add("AVIF")
    else:
        try:
            import pillow_avif  # noqa: F401 - registers the AVIF plugin on import

            found.add("AVIF")
        except ImportError:
            pass
    Image.init()  # loads every installed Pillow plugin, so Image.OPEN names them
    return {fmt for fmt in found if fmt in Image.OPEN}


_AVAILABLE = _register_plugins()
SUPPORTED_FORMATS: tuple[str, ...] = (*_ALWAYS, *sorted(_AVAILABLE))
IMAGE_EXTENSIONS: tuple[str, ...] = tuple(
    ext for fmt in SUPPORTED_FORMATS for ext in (_ALWAYS.get(fmt) or _PLUGINS[fmt][0]))
LISTED_EXTENSIONS: tuple[str, ...] = IMAGE_EXTENSIONS + tuple(
    ext for fmt, (exts, _) in _PLUGINS.items() if fmt not in _AVAILABLE for ext in exts) + OTHER_IMAGE_EXTENSIONS


def unsupported_reason(what: str) -> str:
    """One-line reason for a format not decoded here; ``what`` is an extension (".svg") or a
    sniffed format name ("BMP", "HEIF"). Names the plugin to install when there is one."""
    ext = what.lower() if what.startswith(".") else None
    hint = ""
    for fmt, (exts, package) in _PLUGINS.items():
        if fmt not in _AVAILABLE and (ext in exts if ext else what == fmt):
            hint = f" (install {package} to read it)"
    label = what if ext else {"HEIF": "HEIC"}.get(what, what)
    return f"unsupported format {label}{hint}; convert to PNG or JPEG"


def is_decodable_key(key: str) -> bool:
    """True when ``key``'s extension names a format decoded here."""
    return key.lower().endswith(IMAGE_EXTENSIONS)


def extension(key: str) -> str:
    """``a/b.SVG`` -> ``.svg`` ('' without one)."""
    name = key.rsplit("/", 1)[-1]
    return "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
