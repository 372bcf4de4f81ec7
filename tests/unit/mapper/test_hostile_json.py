"""Coupa JSON that is not what the API documents: the resolver maps or parks, never raises.

Each example takes an invoice of the Coupa simulator's seed (which maps cleanly) and mutates it:
a value anywhere in the tree becomes null, another type, or goes missing; unknown fields appear.
Unknown fields must change nothing; every other mutation ends as ``Mapped`` or as ``Parked`` with
reasons a clerk can read, never as an exception that would dead-letter the message.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.mapper.rules.outcome import Mapped, Parked
from services.mapper.rules.resolve import map_invoice
from shared.messages import InvoiceApproved, PostApInvoice
from simulators.coupa.options import SeedSize
from simulators.coupa.seed import seed_dataset
from tests.unit.mapper.builders import SETTINGS
from tests.unit.mapper.test_properties import _seeded_reference

DATA, _ = seed_dataset(11, SeedSize(suppliers=10, projects=4, purchase_orders=10, invoices=40), 0)
REF = _seeded_reference(DATA)
APPROVED = sorted(
    (i for i in DATA.invoices.values() if i["status"] == "approved"), key=lambda i: i["id"]
)
Path = tuple[str | int, ...]

odd_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(["", " ", "NaN", "Infinity", "1e999999", "-0", "12.345", "1,000.00"]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def event_for(invoice: dict[str, Any]) -> InvoiceApproved:
    cited = {ln.get("po-number") for ln in invoice["invoice-lines"] if ln.get("po-number")}
    pos = [DATA.purchase_orders[int(n)] for n in cited]
    return InvoiceApproved(invoice=copy.deepcopy(invoice), purchase_orders=copy.deepcopy(pos))


def paths(node: object, here: Path = ()) -> list[Path]:
    """Every place in a JSON tree a value sits (dict keys and list items), depth first."""
    found: list[Path] = []
    children: list[tuple[str | int, object]] = []
    if isinstance(node, dict):
        children = list(node.items())
    elif isinstance(node, list):
        children = list(enumerate(node))
    for key, child in children:
        found.append((*here, key))
        found += paths(child, (*here, key))
    return found


def at(tree: object, path: Path) -> Any:
    node: Any = tree
    for step in path:
        node = node[step]
    return node


def mutate(tree: dict[str, Any], path: Path, how: str, value: object) -> None:
    """Replace the value at ``path``, or drop it when its parent is an object."""
    parent = at(tree, path[:-1])
    if how == "drop" and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = value


def supplier_of(invoice: dict[str, Any]) -> dict[str, Any] | None:
    supplier = invoice.get("supplier")
    coupa_id = supplier.get("id") if isinstance(supplier, dict) else None
    return DATA.suppliers.get(coupa_id) if isinstance(coupa_id, int) else None


def assert_maps_or_parks(event: InvoiceApproved) -> Mapped[PostApInvoice] | Parked:
    result = map_invoice(event, SETTINGS, REF, supplier_of(event.invoice))
    assert isinstance(result, Mapped | Parked)
    if isinstance(result, Parked):
        assert result.reasons and all(reason.strip() for reason in result.reasons)
    return result


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_mutated_seed_invoices_map_or_park_with_a_reason(data):
    invoice = copy.deepcopy(data.draw(st.sampled_from(APPROVED)))
    event = event_for(invoice)
    tree = {"invoice": dict(event.invoice), "purchase_orders": list(event.purchase_orders)}
    for _ in range(data.draw(st.integers(1, 4))):
        where = data.draw(st.sampled_from([p for p in paths(tree) if len(p) > 1]))
        mutate(tree, where, data.draw(st.sampled_from(["replace", "drop"])), data.draw(odd_values))
    if not isinstance(tree["invoice"], dict) or not isinstance(tree["purchase_orders"], list):
        return  # the envelope's own model refuses these before the resolver runs
    if not all(isinstance(po, dict) for po in tree["purchase_orders"]):
        return
    assert_maps_or_parks(InvoiceApproved.model_validate(tree))


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_unknown_fields_anywhere_change_nothing(data):
    invoice = data.draw(st.sampled_from(APPROVED))
    expected = assert_maps_or_parks(event_for(invoice))
    tree = copy.deepcopy(invoice)
    objects = [()] + [p for p in paths(tree) if isinstance(at(tree, p), dict)]
    for where in data.draw(st.lists(st.sampled_from(objects), min_size=1, max_size=5)):
        at(tree, where)["x-unknown-field"] = data.draw(odd_values)
    assert assert_maps_or_parks(event_for(tree)) == expected


def test_nulls_where_values_are_usual_are_tolerated_when_harmless():
    invoice = copy.deepcopy(APPROVED[0])
    for key in ("payment-term", "tax-lines", "invoice-charges", "created-at"):
        invoice[key] = None
    for line in invoice["invoice-lines"]:
        line.update({"description": None, "line-num": None, "tax-amount": None})
    assert isinstance(assert_maps_or_parks(event_for(invoice)), Mapped)


def test_unexpected_types_park_with_the_field_named():
    invoice = copy.deepcopy(APPROVED[0])
    invoice["currency"] = "USD"
    result = assert_maps_or_parks(event_for(invoice))
    assert isinstance(result, Parked)
    assert result.reasons == (
        "Coupa invoice " + invoice["invoice-number"] + " has an unreadable value: "
        "currency is not an object",
    )
