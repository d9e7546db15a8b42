"""The flat public API: every name of __all__ imports, and importing the package stays cheap."""

from __future__ import annotations

import subprocess
import sys

import sstdirect


def test_every_exported_name_resolves() -> None:
    for name in sstdirect.__all__:
        assert getattr(sstdirect, name) is not None, name
    assert set(dir(sstdirect)) >= set(sstdirect.__all__)
    assert sorted(sstdirect.__all__) == sorted(sstdirect._EXPORTS)


def test_import_loads_neither_boto3_nor_moto() -> None:
    code = ("import sys, sstdirect, sstdirect.graphql; "
            "print(sorted(m for m in ('boto3', 'moto', 'rich', 'tenacity') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
