"""A CJK font for the plots and pages: Chinese labels render as characters, not boxes.

The font is Noto Sans CJK SC (SIL Open Font License), shipped inside the PyPI package `mplfonts`
(a dependency of the project), so no system font package is needed. Where `mplfonts` is missing,
a system CJK font is used if one is installed (Debian: fonts-noto-cjk or fonts-wqy-zenhei).

    from sim.reporting.fonts import use_cjk_font
    use_cjk_font()                 # matplotlib draws Chinese with the CJK font
    font_face_css("山西")           # an @font-face rule with that text's glyphs, for a self-contained page
"""

from __future__ import annotations

import base64
import functools
import io
import logging
from importlib import resources
from pathlib import Path

log = logging.getLogger("sim.reporting.fonts")

FAMILY = "Noto Sans CJK SC"
PACKAGE_FONT = ("mplfonts", "fonts/NotoSansCJKsc-Regular.otf")
# system fonts tried when the package is not installed (file name fragments, first match wins)
SYSTEM_FONTS = (
    "NotoSansCJK-Regular.ttc",
    "NotoSansCJKsc-Regular",
    "NotoSansSC-Regular",
    "SourceHanSansSC",
    "wqy-zenhei.ttc",
    "wqy-microhei.ttc",
)
CSS_FAMILY = "ReportCJK"


class FontMissing(RuntimeError):
    """No CJK font could be found."""


@functools.lru_cache(maxsize=1)
def cjk_font_path() -> Path | None:
    """The CJK font file: the one shipped by `mplfonts`, else an installed system font, else None."""
    try:
        p = resources.files(PACKAGE_FONT[0]).joinpath(PACKAGE_FONT[1])
        if p.is_file():
            return Path(str(p))
    except ModuleNotFoundError:
        pass
    from matplotlib import font_manager

    found = font_manager.findSystemFonts()
    for frag in SYSTEM_FONTS:
        for f in found:
            if frag.lower() in Path(f).name.lower():
                return Path(f)
    return None


@functools.lru_cache(maxsize=1)
def _register() -> str | None:
    """Add the CJK font to matplotlib's font list (once); its family name, or None."""
    from matplotlib import font_manager

    path = cjk_font_path()
    if path is None:
        return None
    font_manager.fontManager.addfont(str(path))
    return font_manager.FontProperties(fname=str(path)).get_name()


def use_cjk_font(required: bool = False) -> str | None:
    """Make the CJK font matplotlib's default family (the font is registered once). Returns its name.

    With `required`, raise FontMissing when there is none; otherwise log a warning (labels in
    Chinese would then render as boxes).
    """
    import matplotlib

    name = _register()
    if name is None:
        msg = "no CJK font found: pip install mplfonts (or apt-get install fonts-noto-cjk)"
        if required:
            raise FontMissing(msg)
        log.warning(msg)
        return None
    # the CJK font first (it also has Latin glyphs), DejaVu Sans as the fallback for anything else
    matplotlib.rcParams["font.family"] = "sans-serif"
    matplotlib.rcParams["font.sans-serif"] = [name, "DejaVu Sans"]
    matplotlib.rcParams["axes.unicode_minus"] = False
    return name


def font_face_css(text: str, family: str = CSS_FAMILY, unicode_range: str | None = None) -> str:
    """An @font-face rule embedding the CJK font's glyphs for the characters of `text` (base64).

    The page stays self-contained and renders its Chinese on a machine without any CJK font. The
    subset of a report's few hundred distinct characters is some tens of kB. Empty string if no font.
    """
    path = cjk_font_path()
    if path is None:
        return ""
    data = _subset(str(path), "".join(sorted(set(text))))
    b64 = base64.b64encode(data).decode("ascii")
    rng = f"unicode-range: {unicode_range}; " if unicode_range else ""
    return (
        f"@font-face {{ font-family: '{family}'; font-style: normal; font-weight: 400; {rng}"
        f"src: url(data:font/otf;base64,{b64}) format('opentype'); }}"
    )


@functools.lru_cache(maxsize=8)
def _subset(path: str, chars: str) -> bytes:
    from fontTools import subset

    opts = subset.Options()
    opts.layout_features = ["*"]
    opts.name_IDs = ["*"]
    opts.notdef_outline = True
    opts.font_number = 0
    font = subset.load_font(path, opts)
    sub = subset.Subsetter(opts)
    sub.populate(text=chars)
    sub.subset(font)
    buf = io.BytesIO()
    font.save(buf)
    return buf.getvalue()
