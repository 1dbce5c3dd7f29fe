"""The ensemble explorer in a real browser: a gathered sweep opened without running the model.

Saves docs/img/explorer.png.
"""

import time
from pathlib import Path

IMG_DIR = Path(__file__).resolve().parents[2] / "docs" / "img"


def test_explorer_shows_a_sweep_without_running_it(browser, explorer_url, small_sweep):
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(explorer_url)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        body = page.inner_text("body")
        if "members" in body and page.locator("img").count() >= 3:
            break
        time.sleep(0.5)
    body = page.inner_text("body")
    assert "2 scenarios" in body and "baseline (2 members)" in body and "plan (2 members)" in body, body[:2000]
    assert "Δ resident 2029 pp" in body  # the comparison table, as python -m sim compare prints it
    sizes = page.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight])")
    big = [s for s in sizes if s[0] and s[1] > 400 and s[2] > 200]
    assert len(big) >= 3, sizes  # fan charts, cities, maps
    assert not errors, errors
    # the table's Chinese (亿) has an embedded font face, and it loads
    status = page.evaluate(
        "async () => { await document.fonts.load('16px Roboto', '亿'); return Array.from(document.fonts)"
        ".filter(f => f.family.includes('Roboto') && f.unicodeRange.includes('2E80')).map(f => f.status); }"
    )
    assert status and set(status) == {"loaded"}, status
    # nothing was simulated: no run folder was added to the sweep
    assert len([p for p in small_sweep.iterdir() if p.is_dir() and not p.name.startswith(".")]) == 4
    IMG_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMG_DIR / "explorer.png"), full_page=True)
    page.close()
