"""The curated public API: complete, sorted, importable; and import stays light."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import loopml

PACKAGES = [
    "loopml",
    "loopml.blobs",
    "loopml.data",
    "loopml.domain",
    "loopml.errors",
    "loopml.pipelines",
    "loopml.registry",
    "loopml.serving",
    "loopml.store",
    "loopml.store.sql",
    "loopml.tracking",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_and_resolves(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    # isort-style, as ruff keeps it: CONSTANTS, then Classes, then functions.
    assert exported == sorted(
        exported, key=lambda n: (0 if n.isupper() else 1 if n[0].isupper() else 2, n)
    )
    for attr in exported:
        assert getattr(module, attr) is not None


def test_top_level_exports_every_fluent_verb() -> None:
    import loopml.tracking.fluent as fluent

    missing = {
        name
        for name in fluent.__all__
        if name not in {"default_client", "set_default_client"} and name not in loopml.__all__
    }
    assert missing == set()


def test_top_level_exports_every_registry_verb() -> None:
    import loopml.registry.fluent as fluent

    assert set(fluent.__all__) | {"autolog", "ModelRegistry"} <= set(loopml.__all__)


def test_import_loopml_does_not_load_heavy_libraries() -> None:
    code = (
        "import sys, loopml; heavy = ['pandas', 'sqlalchemy', 'boto3', 'fastapi', 'sklearn', 'numpy'];"
        "print(','.join(m for m in heavy if m in sys.modules))"
    )
    loaded = subprocess.check_output([sys.executable, "-c", code], text=True).strip()
    assert loaded == ""


def test_cli_help_does_not_load_heavy_libraries() -> None:
    code = (
        "import sys; sys.argv = ['loopml', '--help'];"
        "from loopml.cli import main\n"
        "try:\n main()\nexcept SystemExit:\n pass\n"
        "heavy = ['pandas', 'sqlalchemy', 'boto3', 'fastapi', 'sklearn', 'numpy'];"
        "print('LOADED=' + ','.join(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.check_output([sys.executable, "-c", code], text=True)
    assert out.strip().splitlines()[-1] == "LOADED="
