"""The parameter declarations (conf/parameters.yaml) are the one source of every population, economy and
behaviour parameter: the config holds exactly the declared keys, the schema's ranges and the kernel's
record come from them, and every declared parameter is read by the model (a key nothing reads would
be a silent no-op)."""

import pytest

from sim.config import compose, to_dict
from sim.config.parameters import GROUPS, declarations, kernel_fields, spec
from sim.config.schema import SCHEMA
from sim.kernel import Behaviour
from sim.kernel.types import MONTHLY_FIELDS


def _leaves(node, prefix=""):
    for k, v in node.items():
        if isinstance(v, dict):
            yield from _leaves(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}"


@pytest.fixture(scope="module")
def cfg():
    return to_dict(compose([]))


def test_the_config_holds_exactly_the_declared_parameters(cfg):
    config_keys = {f"{g}.{k}" for g in GROUPS for k in _leaves(cfg[g]) if not k.startswith("fit.")}
    assert config_keys == set(declarations())


def test_schema_ranges_and_values_come_from_the_declarations(cfg):
    for key, d in declarations().items():
        assert SCHEMA[key].allowed() == spec(d).allowed(), key
        group, _, name = key.partition(".")
        node = cfg[group]
        for part in name.split("."):
            node = node[part]
        if "value" in d:
            assert node == d["value"], key
        assert SCHEMA[key].check(key, node) == [], key


def test_kernel_record_is_the_declared_kernel_parameters_and_the_monthly_fields():
    assert Behaviour._fields == (*kernel_fields(), *MONTHLY_FIELDS)
    assert len(set(Behaviour._fields)) == len(Behaviour._fields)


class Tracked(dict):
    """A config mapping that records which keys are read (nested mappings too)."""

    def __init__(self, data: dict, path: str, seen: set):
        super().__init__({k: Tracked(v, f"{path}{k}.", seen) if isinstance(v, dict) else v for k, v in data.items()})
        self._path, self._seen = path, seen

    def __getitem__(self, key):
        self._seen.add(f"{self._path}{key}")
        return super().__getitem__(key)

    def get(self, key, default=None):
        self._seen.add(f"{self._path}{key}")
        return super().get(key, default)


def test_every_declared_parameter_is_read_by_the_model(cfg, monkeypatch):
    """Build a small model from a config that records its reads (validation, which reads every key,
    switched off) and step it past a new year: a declared parameter that nothing reads fails here."""
    import sim.model as M

    monkeypatch.setattr(M, "validate_config", lambda *a, **k: None)
    seen: set = set()
    c = dict(cfg)
    c["population"] = {**c["population"], "scale": 0.0005}
    tracked = {g: Tracked(c[g], f"{g}.", seen) if g in GROUPS else c[g] for g in c}
    model = M.ShanxiModel(config=tracked)
    for _ in range(14):  # November 2020 to December 2021: a new year's markets and a year end
        model.step()
    unread = [key for key in declarations() if key not in seen]
    assert not unread, f"declared but never read by the model: {unread}"
