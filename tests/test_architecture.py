"""The shape of the code the README's Architecture section promises, held by tests."""

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("custory", "billing", "journeys", "tasks")
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 60


def application_modules():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def _functions(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def test_no_application_module_is_over_450_lines():
    long = [
        f"{path.relative_to(ROOT)}: {lines}"
        for path in application_modules()
        if (lines := path.read_text().count("\n")) > MAX_MODULE_LINES
    ]
    assert long == []


def test_no_application_function_is_over_60_lines():
    long = []
    for path in application_modules():
        for node in _functions(ast.parse(path.read_text())):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            if node.end_lineno - first + 1 > MAX_FUNCTION_LINES:
                long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert long == []


def test_no_import_hides_inside_a_function_to_dodge_a_layer():
    """Imports inside functions are for Django's app registry only (AppConfig.ready)."""
    hidden = []
    for path in application_modules():
        for node in _functions(ast.parse(path.read_text())):
            if path.name == "apps.py" and node.name == "ready":
                continue
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom) and (inner.module or "").startswith(APPS):
                    hidden.append(f"{path.relative_to(ROOT)}:{inner.lineno} {inner.module}")
    assert hidden == []


@pytest.fixture(scope="module")
def contracts():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return config["tool"]["importlinter"]["contracts"]


def test_the_layers_contract_lists_the_same_billing_facts_as_the_exhaustive_one(contracts):
    layers, exhaustive = contracts[0], contracts[1]
    facts = {name.strip() for name in layers["layers"][3].split(":")}
    listed = {f"billing.{name.strip()}" for name in exhaustive["layers"][1].split(":")}
    assert facts == listed
    assert exhaustive["exhaustive"] is True


def test_no_contract_ignores_an_import(contracts):
    assert all("ignore_imports" not in contract for contract in contracts)
