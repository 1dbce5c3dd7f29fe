"""Fill Solara's CDN asset cache from the npm registry, so the dashboard works with no internet.

    .venv/bin/python -m sim.reporting.dashboard_assets        # idempotent; prints what it did

Solara's page loads its JavaScript and CSS from a CDN (jsdelivr) through the server's
`/_solara/cdn/<package>@<version>/...` route, which serves files from
`<venv>/share/solara/cdn/<package>@<version>/` and fetches missing ones from the CDN. These
machines reach no CDN, only the npm registry: this script takes the packages the installed
Solara's page template names (read from the template, so it follows Solara upgrades), fetches
each with `npm pack <package>@<version>` and unpacks it into the cache.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

SPEC = re.compile(r"\{\{\s*cdn\s*\}\}/((?:@[\w.-]+/)?[\w.-]+)@(\d[\w.-]*)/")
ANY_SPEC = re.compile(r"/((?:@[\w.-]+/)?[\w.-]+)@(\d[\w.-]*)/")
# assets that Solara components load on demand: (file in the solara package, package name);
# the version is read from that file. GridDraggable (Mesa's SolaraViz layout) needs the grid
# layout; Markdown loads KaTeX and Mermaid on every page that shows one. Vega (unused) is left out.
COMPONENT_ASSETS = [
    ("widgets/vue/gridlayout.vue", "@widgetti/vue-grid-layout"),
    ("components/markdown.py", "katex"),
    ("components/markdown.py", "mermaid"),
]


def cache_dir() -> Path:
    import solara.server.settings as settings

    return Path(settings.assets.proxy_cache_dir)


def wanted_packages() -> list[tuple[str, str]]:
    """(package, version) of every CDN asset the installed Solara's page template loads."""
    import solara.server.settings as settings

    template = Path(settings.__file__).parent / "templates" / "solara.html.j2"
    specs = set(SPEC.findall(template.read_text(encoding="utf-8")))
    m = re.match(r"/((?:@[\w.-]+/)?[\w.-]+)@(\d[\w.-]*)/", settings.assets.fontawesome_path)
    if m:
        specs.add((m.group(1), m.group(2)))
    root = Path(settings.__file__).parent.parent
    for rel, package in COMPONENT_ASSETS:
        path = root / rel
        if path.exists():
            specs |= {(n, v) for n, v in ANY_SPEC.findall(path.read_text(encoding="utf-8")) if n == package}
    if _ipyvuetify_major() < 3:  # the Vue 3 app is only loaded with ipyvuetify 3
        specs = {s for s in specs if "vuetify3" not in s[0]}
    return sorted(specs)


def _ipyvuetify_major() -> int:
    from importlib import metadata

    try:
        return int(metadata.version("ipyvuetify").split(".")[0])
    except metadata.PackageNotFoundError:
        return 0


def fill(target: Path | None = None, force: bool = False) -> list[str]:
    target = target or cache_dir()
    npm = shutil.which("npm")
    done = []
    for name, version in wanted_packages():
        dest = target / f"{name}@{version}"
        if dest.is_dir() and any(dest.iterdir()) and not force:
            done.append(f"{name}@{version}: present")
            continue
        if npm is None:
            raise SystemExit(f"npm not found: cannot fetch {name}@{version} (apt-get install npm)")
        with tempfile.TemporaryDirectory() as tmp:
            out = subprocess.run(
                [npm, "pack", f"{name}@{version}", "--silent", "--pack-destination", tmp],
                capture_output=True,
                text=True,
                timeout=600,
            )
            if out.returncode != 0:
                raise SystemExit(f"npm pack {name}@{version} failed: {out.stderr.strip()[-500:]}")
            tgz = next(Path(tmp).glob("*.tgz"))
            staging = Path(tmp) / "x"
            with tarfile.open(tgz) as tar:
                tar.extractall(staging, filter="data")
            root = staging / "package"
            if not root.is_dir():  # a few packages use another top folder name
                root = next(p for p in staging.iterdir() if p.is_dir())
            if dest.exists():
                shutil.rmtree(dest)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(root), str(dest))
        done.append(f"{name}@{version}: fetched")
    return done


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--force", action="store_true", help="fetch again even if present")
    ap.add_argument("--target", type=Path, help="cache folder (default: Solara's, <venv>/share/solara/cdn)")
    args = ap.parse_args(argv)
    for line in fill(args.target, args.force):
        print(line)
    print(f"solara CDN cache: {args.target or cache_dir()}", file=sys.stderr)


if __name__ == "__main__":
    main()
