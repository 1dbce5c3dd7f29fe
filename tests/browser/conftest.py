"""Real-browser tests: Debian's Chromium driven by Playwright (the Python package, no downloaded browser).

The session fixture `browser` finds /usr/bin/chromium, installing Debian's `chromium` with apt-get
when it is missing and we are root with apt-get (as on CI). When no browser can be had the tests
are skipped with the reason; under CI=true they fail instead, so a green CI always means the pages
were really rendered.

`dashboard_url` starts `solara run sim/app.py` on a free localhost port (the asset cache filled
from the npm registry first, sim/reporting/dashboard_assets.py) and stops it afterwards.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IMG_DIR = ROOT / "docs" / "img"
CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
# flags of a headless Chromium on a machine with no network but loopback (see the machine notes)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--disable-default-apps",
    "--mute-audio",
    "--font-render-hinting=none",
]
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives a real Chromium (tests/browser; about 2 min)")


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker("browser")
            item.add_marker(pytest.mark.xdist_group("browser"))  # one worker: one Chromium, docs/img written once


def unavailable(reason: str):
    """Skip, or fail under CI=true (CI must not pass by skipping the browser)."""
    if CI:
        pytest.fail(f"browser test cannot run under CI: {reason}", pytrace=False)
    pytest.skip(reason)


def find_chromium() -> str | None:
    env = os.environ.get("CHROMIUM")
    if env and Path(env).exists():
        return env
    for name in CHROMIUM_NAMES:
        p = shutil.which(name)
        if p:
            return p
    return None


def ensure_chromium() -> tuple[str | None, str]:
    """Path of a Chromium, installing Debian's package when missing (root + apt-get only)."""
    path = find_chromium()
    if path:
        return path, ""
    if not (hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get")):
        return None, "no Chromium found (apt-get install chromium), and not root with apt-get to install it"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    upd = subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, text=True, timeout=900)
    inst = subprocess.run(
        ["apt-get", "install", "-y", "-q", "chromium"], env=env, capture_output=True, text=True, timeout=1800
    )
    path = find_chromium()
    if path:
        return path, ""
    return None, f"apt-get install chromium failed: {(upd.stderr + inst.stderr).strip()[-400:]}"


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the Python package playwright is not installed (pip install -e '.[test]')")
    path, why = ensure_chromium()
    if path is None:
        unavailable(why)
    with sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        except Exception as e:  # a broken install: say why
            unavailable(f"Chromium at {path} did not start: {e}")
        yield b
        b.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _solara_assets() -> None:
    try:
        import mesa.visualization  # noqa: F401
        import solara  # noqa: F401
    except ImportError as e:
        unavailable(f"the dashboard extra is not installed ({e}); pip install -e '.[dashboard]'")
    try:
        from sim.reporting.dashboard_assets import fill

        fill()
    except (SystemExit, Exception) as e:  # no npm, or no registry: the page would stay blank
        unavailable(f"Solara's asset cache could not be filled from the npm registry: {e}")


def _serve(app: str, env_extra: dict, log: Path):
    """`solara run <app>` on a free localhost port: yields its URL once it answers, stops it afterwards."""
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **env_extra}
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "solara", "run", app, "--host", "127.0.0.1", "--port", str(port), "--production",
             "--no-open"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 240
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"solara exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"solara did not answer on {url} within 240 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # the server's own process group only
            proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        print(f"solara log: {log}")


@pytest.fixture(scope="module")
def dashboard_url(tmp_path_factory):
    """URL of the dashboard (`solara run sim/app.py`) on a free localhost port, stopped at the end."""
    _solara_assets()
    log = tmp_path_factory.mktemp("dashboard") / "solara.log"
    yield from _serve("sim/app.py", {"SHANXI_DASHBOARD_SCALE": "0.002", "SHANXI_DASHBOARD_SEED": "42"}, log)


@pytest.fixture(scope="module")
def small_sweep(tmp_path_factory):
    """A sweep of 2 scenarios x 2 members (posterior draws) at scale 0.001 to 2029, gathered."""
    d = tmp_path_factory.mktemp("explorer") / "sweep"
    cmd = [sys.executable, "-m", "sim", "-m", "scenario=baseline,plan", "seed=1,2", "population.scale=0.001",
           "run.progress=none", f"hydra.sweep.dir={d}"]  # fmt: skip
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    done = subprocess.run([sys.executable, "-m", "sim", "gather", str(d)], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return d


@pytest.fixture(scope="module")
def explorer_url(tmp_path_factory, small_sweep):
    """URL of the ensemble explorer (`solara run sim/explorer.py`) opened on `small_sweep`."""
    _solara_assets()
    log = tmp_path_factory.mktemp("explorer_log") / "solara.log"
    yield from _serve("sim/explorer.py", {"SHANXI_SWEEP": str(small_sweep)}, log)
