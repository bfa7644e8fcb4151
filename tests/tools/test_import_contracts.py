"""The custom import-linter contract finds module cycles (and only cycles)."""

from __future__ import annotations

import grimp

from tools.import_contracts import AcyclicModulesContract, _components


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
