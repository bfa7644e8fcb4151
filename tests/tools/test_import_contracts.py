"""The custom import-linter contract finds module cycles (and only cycles); the package-level
contract in pyproject.toml keeps kensho.search and kensho.actors one way."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import grimp
from importlinter.configuration import configure
from importlinter.contracts.acyclic_siblings import AcyclicSiblingsContract

from tools.import_contracts import AcyclicModulesContract, _components

PYPROJECT = Path(__file__).parents[2] / "pyproject.toml"


def _graph(*edges: tuple[str, str]) -> grimp.ImportGraph:
    graph = grimp.ImportGraph()
    for importer, imported in edges:
        graph.add_module(importer)
        graph.add_module(imported)
        graph.add_import(importer=importer, imported=imported)
    return graph


def test_a_chain_has_no_cycle() -> None:
    graph = _graph(("p.a", "p.b"), ("p.b", "p.c"), ("p.a", "p.c"))
    assert _components(graph, {"p.a", "p.b", "p.c"}) == []


def test_two_and_three_module_cycles_are_found_apart() -> None:
    graph = _graph(
        ("p.a", "p.b"),
        ("p.b", "p.a"),
        ("p.c", "p.d"),
        ("p.d", "p.e"),
        ("p.e", "p.c"),
        ("p.e", "p.f"),
    )
    found = _components(graph, {"p.a", "p.b", "p.c", "p.d", "p.e", "p.f"})
    assert sorted(found) == [["p.a", "p.b"], ["p.c", "p.d", "p.e"]]


def test_the_contract_reports_a_path_through_the_cycle() -> None:
    graph = _graph(("p", "p.x"), ("p.x", "p.y"), ("p.y", "p.z"), ("p.z", "p.x"))
    contract = AcyclicModulesContract(
        name="no cycles", session_options={}, contract_options={"containers": ["p"]}
    )
    check = contract.check(graph, verbose=False)
    assert not check.kept
    [cycle] = check.metadata["cycles"]
    assert cycle["modules"] == ["p.x", "p.y", "p.z"]
    assert cycle["path"][0] == cycle["path"][-1] == "p.x" and len(cycle["path"]) == 4


def _package_contract() -> AcyclicSiblingsContract:
    contracts: list[dict[str, Any]] = tomllib.loads(PYPROJECT.read_text("utf-8"))["tool"][
        "importlinter"
    ]["contracts"]
    [options] = [c for c in contracts if c["type"] == "acyclic_siblings"]
    options = {k: v for k, v in options.items() if k not in ("name", "type")}
    return AcyclicSiblingsContract(name="packages", session_options={}, contract_options=options)


def test_search_and_actors_depend_one_way_and_the_contract_would_say_otherwise() -> None:
    configure()  # what `lint-imports` does first (the contract's timer lives in its settings)
    graph = grimp.build_graph("kensho", include_external_packages=False)
    assert _package_contract().check(graph, verbose=False).kept
    # The refactor's search service once drove the actor through its handle and messages,
    # while the actor wraps search's index: a cycle between the two packages.
    graph.add_import(importer="kensho.search.service", imported="kensho.actors.handle")
    check = _package_contract().check(graph, verbose=False)
    assert not check.kept
    assert "kensho" in check.metadata["cycle_breakers_by_package"]
