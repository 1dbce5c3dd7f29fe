"""The evaluation report rendered by a real browser: content, Chinese text, images, fonts.

Makes a tiny run (the plan, scale 0.002), writes its report.html, opens it in Chromium from the
file system (no server: the page must be self-contained) and saves its first A4 page to
docs/img/report.png.
"""

import time
from pathlib import Path

import pytest

IMG_DIR = Path(__file__).resolve().parents[2] / "docs" / "img"
A4_AT_1100 = (1100, 1556)  # the A4 proportions at the page's width


@pytest.fixture(scope="module")
def report_html(tmp_path_factory):
    from sim.config import compose, to_dict
    from sim.reporting import report
    from sim.runs.run import run_to_folder

    root = tmp_path_factory.mktemp("report_render")
    cfg = to_dict(compose(["population.scale=0.002", "seed=42", "scenario=plan", "run.progress=none"]))
    run_to_folder(cfg, root / "plan_seed42")
    return report.build(root / "plan_seed42", lang="zh")


def test_report_renders_in_chromium(browser, report_html):
    t0 = time.monotonic()
    page = browser.new_page(viewport={"width": A4_AT_1100[0], "height": A4_AT_1100[1]})
    errors, requests = [], []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(report_html.path.as_uri())
    page.wait_for_load_state("load")
    page.evaluate("document.fonts.ready")
    assert not errors, errors
    # self-contained: nothing but the file itself (and its data: URLs) was requested
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []

    # every image decoded with real pixels
    images = page.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight])")
    assert len(images) >= 6
    assert all(c and w > 300 and h > 200 for c, w, h in images), images

    # Chinese text in the DOM, drawn with the embedded CJK font (the machine may have none)
    text = page.inner_text("body")
    for words in (
        "山西省新型城镇化实施方案",
        "评估摘要",
        "常住人口城镇化率接近70%",
        "太原都市圈",
        "县域城镇化率",
        "政策成本",
        "数据来源与可追溯信息",
    ):
        assert words in text, words
    assert page.evaluate("document.fonts.check('16px ReportCJK', '山西省城镇化')")
    loaded = page.evaluate("Array.from(document.fonts).filter(f => f.status === 'loaded').map(f => f.family)")
    assert any("ReportCJK" in f for f in loaded), loaded
    # the traffic lights are there, one per target and evaluation year
    assert page.locator("table.lights .light").count() == 10

    IMG_DIR.mkdir(parents=True, exist_ok=True)
    out = IMG_DIR / "report.png"
    page.screenshot(path=str(out))  # the first A4 page (the viewport at the top)
    page.close()
    _assert_not_blank(out)
    print(f"report render test: {time.monotonic() - t0:.1f} s in the browser")


def _assert_not_blank(png: Path):
    import matplotlib.image as mpimg
    import numpy as np

    a = mpimg.imread(png)[..., :3]
    assert a.shape[0] >= 1000 and a.shape[1] >= 1000
    dark = (a.mean(axis=2) < 0.5).mean()  # share of text-and-line pixels
    assert dark > 0.01, f"the page looks blank ({dark:.3%} dark pixels)"
    assert np.unique((a * 15).round().reshape(-1, 3), axis=0).shape[0] > 20  # several colours: lights, figures


def test_report_prints_to_pdf_with_its_chinese_font(browser, report_html, tmp_path):
    """pdf=true: the same HTML printed by headless Chromium, the CJK glyphs embedded as a font subset."""
    import re

    from sim.reporting import report

    pdf = report.print_pdf(report_html.path, tmp_path / "report.pdf")
    data = pdf.read_bytes()
    assert data[:5] == b"%PDF-" and data.rstrip().endswith(b"%%EOF")
    pages = len(re.findall(rb"/Type\s*/Page\b", data))
    assert pages >= 3, pages  # the report runs over several A4 pages
    fonts = set(re.findall(rb"/FontName\s*/([A-Za-z0-9+_-]+)", data))
    embedded = re.findall(rb"/FontFile[23]?\b", data)
    assert embedded, "no font file embedded"
    assert any(b"CJK" in f or b"Report" in f for f in fonts) or re.search(rb"/Subtype\s*/Type3", data), fonts
    assert not list(tmp_path.glob(".*.part")), "a temporary file was left behind"
