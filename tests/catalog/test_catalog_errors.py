"""CatalogError rendering: one line for one problem, a list for several."""

from __future__ import annotations

from catalog.errors import CatalogError, Problem, format_path


def test_format_path() -> None:
    assert format_path(["tables", 1, "columns", 3, "type"]) == "tables[1].columns[3].type"
    assert format_path([2, "name"]) == "[2].name"
    assert format_path([]) == ""


def test_rendering() -> None:
    assert str(CatalogError("no such file", source="c.yaml")) == "c.yaml: no such file"
    one = CatalogError("", [Problem("columns[0].type", "bad")], source="c.yaml")
    assert str(one) == "c.yaml: columns[0].type: bad"
    many = CatalogError("", [Problem("a", "x"), Problem("", "y")], source="c.yaml")
    assert str(many) == "c.yaml: 2 problems\n  - a: x\n  - y"
    assert many.problems == [Problem("a", "x"), Problem("", "y")]
    assert str(CatalogError("cannot register", [Problem("name", "too long")])) == (
        "cannot register\n  - name: too long"
    )
