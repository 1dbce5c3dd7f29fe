"""The dashboard in a real browser: move a lever, rebuild, step, run to 2029, see the curves move.

Saves docs/img/dashboard.png (the whole page after the run).
"""

import re
import time
from pathlib import Path

IMG_DIR = Path(__file__).resolve().parents[2] / "docs" / "img"


def _num(text: str) -> float:
    return float(re.sub(r"[^0-9.+-]", "", text))


def _wait_text(locator, predicate, timeout_s: float, what: str) -> str:
    deadline = time.monotonic() + timeout_s
    text = ""
    while time.monotonic() < deadline:
        text = locator.inner_text().strip()
        if predicate(text):
            return text
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}; last text: {text!r}")


def _province_chart_src(page) -> str:
    # the charts are <img> (matplotlib PNG) in the grid's items; the province chart is the first
    img = page.locator(".vue-grid-item img").first
    img.wait_for(timeout=60_000)
    return img.get_attribute("src") or ""


def _wait_src_change(page, old: str, timeout_s: float, what: str) -> str:
    """The province chart's image once it differs from `old` (the charts re-render after the numbers)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        src = _province_chart_src(page)
        if src and src != old:
            page.wait_for_timeout(1000)  # let the other charts land too
            return _province_chart_src(page)
        time.sleep(0.3)
    raise AssertionError(f"{what}: the province chart did not change within {timeout_s:.0f} s")


def test_dashboard_levers_move_the_curves(browser, dashboard_url):
    t0 = time.monotonic()
    page = browser.new_page(viewport={"width": 1400, "height": 1300})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(dashboard_url, timeout=120_000)
    page.locator(".kpi-resident").wait_for(timeout=120_000)
    assert page.locator(".kpi-month").inner_text().strip() == "2020-11"
    # the baseline is computed once in the background; the card says so until it is there
    _wait_text(page.locator(".kpi-resident-baseline"), lambda t: t not in ("", "…"), 180, "the baseline")
    page.get_by_text("基线计算中").wait_for(state="detached", timeout=180_000)
    before = _province_chart_src(page)

    # move the rent-subsidy slider to its maximum (keyboard on the slider's thumb, as a user can)
    slider = page.locator(".v-input", has_text="租赁补贴").get_by_role("slider")
    slider.focus()
    slider.press("End")
    assert slider.get_attribute("aria-valuenow") == "1000"
    # Reset rebuilds the model with the sliders' values
    page.get_by_role("button", name="Reset").click()
    _wait_text(page.locator(".kpi-levers"), lambda t: "rent_subsidy_yuan_month" in t, 120, "the lever in force")
    # a few months with Mesa's Step button
    for _ in range(3):
        page.get_by_role("button", name="Step", exact=True).click()
    _wait_text(page.locator(".kpi-month"), lambda t: t == "2021-01", 60, "three months stepped")
    stepped = _wait_src_change(page, before, 60, "the chart after three steps")
    # then straight to the end of 2029
    page.locator(".run-to-end").click()
    _wait_text(page.locator(".kpi-month"), lambda t: t == "2029-12", 240, "the run to December 2029")
    after = _wait_src_change(page, stepped, 60, "the chart after the run to 2029")

    cost = _num(page.locator(".kpi-cost").inner_text())
    assert cost > 0, "a rent subsidy above the baseline must cost money"
    deltas = {k: _num(page.locator(f".kpi-{k}-delta").inner_text()) for k in ("resident", "hukou", "settled")}
    assert any(abs(v) > 0 for v in deltas.values()), f"the lever moved nothing against the baseline: {deltas}"
    assert after != before
    assert not [e for e in errors if "mermaid" not in e.lower()], errors

    IMG_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMG_DIR / "dashboard.png"), full_page=True)
    page.close()
    print(f"dashboard test: {time.monotonic() - t0:.1f} s in the browser; deltas {deltas}; cost {cost} 亿元")
