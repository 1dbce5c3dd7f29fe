"""The identity of a result: the config, code, data, behaviour fit and packages that made it.

Every manifest carries `result_key` (written by sim.runs.outputs.manifest):

    {"key": "3f2a9c1b0d4e5f67",        16 hex of a sha256 over the canonical JSON of the parts
     "version": "9c1b0d4e5f673f2a",    the same over the parts without `config`: the model/data version
     "parts": {
       "config": "...",                16 hex over the resolved config without result-neutral keys
       "code": {"model_version": "0.1.0", "commit": "<40 hex> or null", "sources": "<16 hex> or null"},
       "data": "...",                  16 hex over sim.world.inputs.data_file_hashes() (per file: data_sha256)
       "posterior": "fit:<16 hex>" or "none",   the behaviour fit in use (conf/behaviour/fitted.yaml)
       "packages": {"numpy": "...", "numba": "..."}},
     "sources_sha256": {path: sha256}}  per model source file when `sources` is set (to name what changed)

The code is the git commit when the model sources (MODEL_SOURCES) are as committed; when they are not
(edited or new files) or there is no git checkout, `sources` is a hash over those files as well.

A run is "already complete" only when the key of its manifest is the key of the run about to be made
(sim.runs.sweep.completion). The parts of a manifest are read back from its own fields where it has
them (`git.commit`, `model_version`, `data_sha256`, `packages`, `config`: `manifest_parts`), so a
manifest edited by hand cannot pass for another version; `differences` says which parts differ.
"""

from __future__ import annotations

import functools
import hashlib
import json
import subprocess
from importlib import metadata
from pathlib import Path

import yaml

from sim.config import PROJECT_ROOT

MODEL_SOURCES = ("sim/**/*.py", "agents/*.py", "scenarios/*.py", "scenarios/levers.yaml", "conf/**/*.yaml")
FIT_FILE = "conf/behaviour/fitted.yaml"
KEY_PACKAGES = ("numpy", "numba")
MODEL_PACKAGE = "shanxi-urbanization"
PARTS = ("config", "code", "data", "posterior", "packages")
# Config keys that do not change a run's results (see conf/config.yaml): a rerun that differs only
# in them is still the same result.
RESULT_NEUTRAL_KEYS = (("run", "progress"), ("run", "threads"), ("run", "strict_provenance"), ("run", "compile_ahead"))
NO_KEY = "no result key in its manifest (made before results recorded their identity)"


# ------------------------------------------------------------------------------------------ hashing
def _json_default(o):
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    return str(o)


def canonical(obj) -> str:
    """JSON with sorted keys and no spaces: the same object always gives the same text."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def short_hash(obj, n: int = 16) -> str:
    """The first `n` hex digits of the sha256 of `obj`'s canonical JSON."""
    return hashlib.sha256(canonical(obj).encode("utf-8")).hexdigest()[:n]


def comparable_config(cfg: dict) -> dict:
    """The config as stored in a manifest (JSON round trip), without result-neutral keys."""
    c = json.loads(json.dumps(cfg or {}, default=_json_default))
    for path in RESULT_NEUTRAL_KEYS:
        node = c
        for k in path[:-1]:
            node = node.get(k) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(path[-1], None)
    return c


# ------------------------------------------------------------------------------------------ code
def source_files(root: Path = PROJECT_ROOT, exclude: tuple[str, ...] = ()) -> list[Path]:
    """The model sources under `root` (MODEL_SOURCES), without caches, hidden folders and `exclude`."""
    root = Path(root)
    found = set()
    for pattern in MODEL_SOURCES:
        for p in root.glob(pattern):
            rel = p.relative_to(root)
            if p.is_file() and not any(part.startswith((".", "__pycache__")) for part in rel.parts):
                if rel.as_posix() not in exclude:
                    found.add(p)
    return sorted(found)


@functools.lru_cache(maxsize=8)
def _source_hashes(root: str, exclude: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    return tuple(
        (p.relative_to(root).as_posix(), hashlib.sha256(p.read_bytes()).hexdigest())
        for p in source_files(Path(root), exclude)
    )


def source_hashes(exclude: tuple[str, ...] = ()) -> dict[str, str]:
    """sha256 of every model source file, by path; read once per process (the code this process runs)."""
    return dict(_source_hashes(str(PROJECT_ROOT), tuple(exclude)))


def sources_digest(exclude: tuple[str, ...] = ()) -> str:
    return short_hash(source_hashes(exclude))


@functools.lru_cache(maxsize=1)
def _git() -> tuple[str | None, bool | None]:
    """(HEAD commit, whether the model sources differ from it), (None, None) without git."""

    def git(*args):
        return subprocess.run(
            ["git", "-C", str(PROJECT_ROOT), *args], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()

    specs = [f":(glob){p}" for p in MODEL_SOURCES]
    try:
        commit = git("rev-parse", "HEAD")
        changed = git("status", "--porcelain", "--untracked-files=all", "--", *specs)
    except (OSError, subprocess.SubprocessError):
        return None, None
    return (commit or None), bool(changed)


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


@functools.lru_cache(maxsize=1)
def code_version() -> dict:
    """The model's code: its version, the git commit, and a hash of its sources when they are not the
    commit's (edited, new files, or no git). Read once per process."""
    commit, changed = _git()
    sources = None if commit and changed is False else sources_digest()
    return {"model_version": _version(MODEL_PACKAGE), "commit": commit, "sources": sources}


# ------------------------------------------------------------------------------------------ the other parts
def data_version(hashes: dict | None = None) -> str:
    """16 hex over the data files' sha256 (sim.world.inputs.data_file_hashes)."""
    if hashes is None:
        from sim.world.inputs import data_file_hashes

        hashes = data_file_hashes()
    return short_hash(hashes)


def package_key() -> dict:
    return {p: _version(p) for p in KEY_PACKAGES}


@functools.lru_cache(maxsize=4)
def _fit_file(path: str, mtime_ns: int) -> tuple[str, dict | None]:
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return "", None
    return canonical(doc.get("fit")), doc.get("fitted")


def posterior_id(cfg: dict) -> str:
    """The id of the behaviour fit in use: 'fit:' + 16 hex over its fitted values and its `fit:` record,
    or 'none' when the config has no fit record. The values are those of conf/behaviour/fitted.yaml
    when the config's record is that file's (values overridden on the command line are part of the
    config, not of the fit)."""
    beh = (cfg or {}).get("behaviour") or {}
    fit = beh.get("fit")
    if not fit:
        return "none"
    path = PROJECT_ROOT / FIT_FILE
    try:
        file_fit, file_values = _fit_file(str(path), path.stat().st_mtime_ns)
    except OSError:
        file_fit, file_values = "", None
    values = file_values if file_fit == canonical(fit) and file_values is not None else beh.get("fitted")
    return "fit:" + short_hash({"fit": fit, "fitted": values})


# ------------------------------------------------------------------------------------------ the key
def parts(cfg: dict, data_hashes: dict | None = None) -> dict:
    return {
        "config": short_hash(comparable_config(cfg)),
        "code": code_version(),
        "data": data_version(data_hashes),
        "posterior": posterior_id(cfg),
        "packages": package_key(),
    }


def key_of(p: dict) -> str:
    return short_hash({k: p.get(k) for k in PARTS})


def version_of(p: dict | None) -> str:
    """The model/data version of a result: its key without the config."""
    if p is None:
        return "unknown"
    return short_hash({k: p.get(k) for k in PARTS if k != "config"})


def record(cfg: dict, data_hashes: dict | None = None) -> dict:
    """The `result_key` of a manifest for a run of `cfg` made now, by this process."""
    p = parts(cfg, data_hashes)
    rec = {"key": key_of(p), "version": version_of(p), "parts": p}
    if p["code"]["sources"]:
        rec["sources_sha256"] = source_hashes()
    return rec


def manifest_parts(man: dict) -> dict | None:
    """The parts of a manifest's result, read from its own fields (config, git.commit, model_version,
    data_sha256, packages) and, for the rest (sources, posterior), from its `result_key`. None for a
    manifest without a result key."""
    rk = (man or {}).get("result_key")
    if not isinstance(rk, dict) or not isinstance(rk.get("parts"), dict):
        return None
    stored = rk["parts"]
    code = dict(stored.get("code") or {})
    code["commit"] = (man.get("git") or {}).get("commit")
    code["model_version"] = man.get("model_version")
    pk = man.get("packages") or {}
    return {
        "config": short_hash(comparable_config(man.get("config") or {})),
        "code": code,
        "data": data_version(man.get("data_sha256") or {}),
        "posterior": stored.get("posterior"),
        "packages": {p: pk.get(p) for p in KEY_PACKAGES},
    }


# ------------------------------------------------------------------------------------------ saying what differs
def _flat(d, prefix: str = "") -> dict:
    out = {}
    for k, v in (d or {}).items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(_flat(v, key + "."))
        else:
            out[key] = v
    return out


def _short(v, n: int = 40) -> str:
    text = json.dumps(v, ensure_ascii=False, default=_json_default) if not isinstance(v, str) else v
    return text if len(text) <= n else text[: n - 3] + "..."


def _listed(items: list[str], n: int = 4) -> str:
    return ", ".join(items[:n]) + (f" and {len(items) - n} more" if len(items) > n else "")


def config_changes(old: dict | None, new: dict | None) -> list[str]:
    a, b = _flat(comparable_config(old or {})), _flat(comparable_config(new or {}))
    return [
        f"{k} {_short(a.get(k, '(none)'))} -> {_short(b.get(k, '(none)'))}"
        for k in sorted(set(a) | set(b))
        if a.get(k) != b.get(k)
    ]


def file_changes(old: dict | None, new: dict | None) -> list[str]:
    """'name changed' / 'name added' / 'name removed' for two {name: sha256} maps."""
    old, new = old or {}, new or {}
    out = [f"{n} changed" for n in sorted(set(old) & set(new)) if old[n] != new[n]]
    out += [f"{n} added" for n in sorted(set(new) - set(old))]
    out += [f"{n} removed" for n in sorted(set(old) - set(new))]
    return out


def _code_change(old: dict, new: dict, old_files: dict | None, new_files: dict | None) -> str:
    out = []
    if old.get("model_version") != new.get("model_version"):
        out.append(f"model version {old.get('model_version')} -> {new.get('model_version')}")
    if old.get("commit") != new.get("commit"):
        out.append(f"commit {(old.get('commit') or 'none')[:10]} -> {(new.get('commit') or 'none')[:10]}")
    if old.get("sources") != new.get("sources"):
        files = file_changes(old_files, new_files) if old_files and new_files else []
        what = f" ({_listed(files)})" if files else ""
        out.append(
            f"model sources {old.get('sources') or 'as committed'} -> {new.get('sources') or 'as committed'}{what}"
        )
    return "; ".join(out)


def differences(
    man: dict, now: dict, cfg: dict | None = None, data_hashes: dict | None = None, old: dict | None = None
) -> list[str]:
    """What differs between the result in manifest `man` and `now` (a `record` of the run about to be
    made with config `cfg` and data `data_hashes`), part by part: [] when the keys are equal."""
    old = manifest_parts(man) if old is None else old
    if old is None:
        return [NO_KEY]
    new = now["parts"]
    if key_of(old) == now["key"]:
        return []
    out = []
    if old["config"] != new["config"]:
        out.append("config: " + (_listed(config_changes(man.get("config"), cfg)) if cfg is not None else "differs"))
    if old["code"] != new["code"]:
        stored = (man.get("result_key") or {}).get("sources_sha256")
        out.append("code: " + _code_change(old["code"], new["code"], stored, now.get("sources_sha256")))
    if old["data"] != new["data"]:
        files = file_changes(man.get("data_sha256"), data_hashes) if data_hashes is not None else []
        out.append(f"data: {old['data']} -> {new['data']}" + (f" ({_listed(files)})" if files else ""))
    if old["posterior"] != new["posterior"]:
        out.append(f"posterior: behaviour fit {old['posterior']} -> {new['posterior']}")
    if old["packages"] != new["packages"]:
        pk = [f"{p} {old['packages'].get(p)} -> {new['packages'].get(p)}" for p in KEY_PACKAGES]
        out.append(
            "packages: "
            + ", ".join(x for x, p in zip(pk, KEY_PACKAGES) if old["packages"].get(p) != new["packages"].get(p))
        )
    return out or [f"result key {key_of(old)} -> {now['key']}"]


def differing_parts(a: dict | None, b: dict | None) -> list[str]:
    """Names of the parts (not config) in which two results' parts differ."""
    if a is None or b is None:
        return ["all (a result without a key)"] if a is not b else []
    return [k for k in PARTS if k != "config" and a.get(k) != b.get(k)]


def describe(p: dict | None) -> str:
    """One line: the version of a result, for footers and messages."""
    if p is None:
        return "unknown version (no result key)"
    code = p.get("code") or {}
    commit = (code.get("commit") or "no git")[:8]
    src = f" + sources {code['sources'][:8]}" if code.get("sources") else ""
    pk = ", ".join(f"{k} {v}" for k, v in (p.get("packages") or {}).items())
    return (
        f"version {version_of(p)[:8]}: code {commit}{src} (model {code.get('model_version')}), "
        f"data {str(p.get('data'))[:8]}, fit {str(p.get('posterior')).removeprefix('fit:')}, {pk}"
    )


def brief(p: dict | None) -> str:
    """A short form of `describe` for plot footers: 'v 9c1b0d4e (code acff0ea1+src 1a2b3c4d, data 5e6f7a8b,
    fit 0123abcd)'."""
    if p is None:
        return "v unknown"
    code = p.get("code") or {}
    src = f"+src {code['sources'][:8]}" if code.get("sources") else ""
    fit = str(p.get("posterior")).removeprefix("fit:")[:8]
    commit = (code.get("commit") or "no-git")[:8]
    return f"v {version_of(p)[:8]} (code {commit}{src}, data {str(p.get('data'))[:8]}, fit {fit})"


def brief_versions(manifests: list[dict]) -> str:
    vs = versions_of(manifests)
    if len(vs) == 1:
        return brief(next(iter(vs.values()))["parts"])
    return f"MIXED {len(vs)} versions: " + ", ".join(f"{e['n']}x v {v[:8]}" for v, e in vs.items())


def current_parts(cfg: dict | None = None) -> dict:
    """The parts of a result made now from `cfg` (the default config if None)."""
    if cfg is None:
        from sim.config import compose, to_dict

        cfg = to_dict(compose([]))
    return parts(cfg)


def versions_of(manifests: list[dict]) -> dict[str, dict]:
    """{version: {"parts": parts, "n": count}} of a list of manifests (version 'unknown' for manifests
    without a result key)."""
    out: dict[str, dict] = {}
    for man in manifests:
        p = manifest_parts(man)
        v = version_of(p)
        entry = out.setdefault(v, {"parts": p, "n": 0})
        entry["n"] += 1
    return out


def describe_versions(manifests: list[dict]) -> str:
    """The version(s) a set of results was made from, in one line (or several when they are mixed)."""
    vs = versions_of(manifests)
    if len(vs) == 1:
        return describe(next(iter(vs.values()))["parts"])
    return f"MIXED, {len(vs)} versions: " + " | ".join(f"{e['n']} x {describe(e['parts'])}" for e in vs.values())
