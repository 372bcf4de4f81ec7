"""A read-only view of one connection's Deltek reference cache and explicit maps, for resolving.

``shared/reference/cache.py`` builds it from Postgres; the mapper holds one per connection in
memory and shares it between concurrent messages until it hears of a change, so it is immutable
(frozen dataclasses over read-only mappings). The resolver only reads it, so resolution stays
pure and testable without a database.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType

MAP_KINDS = ("supplier", "account", "project")


@dataclass(frozen=True)
class Vendor:
    client_id: str
    vendor: str | None
    name: str
    status: str
    tax_id: str | None = None

    @property
    def active(self) -> bool:
        return self.status == "A"


@dataclass(frozen=True)
class GlAccount:
    account: str
    name: str
    status: str
    type: str | None = None


@dataclass(frozen=True)
class CachedProject:
    """A project, phase or task row; ``wbs2``/``wbs3`` are "" on the rows above them."""

    wbs1: str
    wbs2: str
    wbs3: str
    name: str
    status: str
    charge_type: str | None
    sub_level: bool


@dataclass(frozen=True)
class OpenPeriod:
    period: int  # YYYYMM
    starts_on: date
    ends_on: date

    def contains(self, day: date) -> bool:
        return self.starts_on <= day <= self.ends_on


def norm_tax_id(value: str | None) -> str | None:
    """Tax ids compare without punctuation or case (``91-1234567`` = ``911234567``)."""
    cleaned = re.sub(r"[^0-9A-Za-z]", "", value or "").upper()
    return cleaned or None


def norm_name(value: str | None) -> str | None:
    """Names compare exactly but for case and runs of white space."""
    cleaned = " ".join((value or "").split()).casefold()
    return cleaned or None


def _freeze(groups: dict[str, list[Vendor]]) -> Mapping[str, tuple[Vendor, ...]]:
    return MappingProxyType({key: tuple(vendors) for key, vendors in groups.items()})


@dataclass(frozen=True)
class Reference:
    """Indexes over the cache; build with :meth:`build`."""

    vendors_by_client: Mapping[str, Vendor] = field(default_factory=dict)
    vendors_by_number: Mapping[str, Vendor] = field(default_factory=dict)
    vendors_by_tax_id: Mapping[str, tuple[Vendor, ...]] = field(default_factory=dict)
    vendors_by_name: Mapping[str, tuple[Vendor, ...]] = field(default_factory=dict)
    accounts: Mapping[str, GlAccount] = field(default_factory=dict)
    projects: Mapping[tuple[str, str, str], CachedProject] = field(default_factory=dict)
    open_periods: tuple[OpenPeriod, ...] = ()
    maps: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        *,
        vendors: Iterable[Vendor] = (),
        accounts: Iterable[GlAccount] = (),
        projects: Iterable[CachedProject] = (),
        open_periods: Iterable[OpenPeriod] = (),
        maps: Mapping[str, Mapping[str, str]] | None = None,
    ) -> Reference:
        vendor_list = list(vendors)
        by_tax: dict[str, list[Vendor]] = {}
        by_name: dict[str, list[Vendor]] = {}
        for vendor in vendor_list:
            if (tax := norm_tax_id(vendor.tax_id)) is not None:
                by_tax.setdefault(tax, []).append(vendor)
            if (name := norm_name(vendor.name)) is not None:
                by_name.setdefault(name, []).append(vendor)
        maps = maps or {}
        return cls(
            vendors_by_client=MappingProxyType({v.client_id: v for v in vendor_list}),
            vendors_by_number=MappingProxyType({v.vendor: v for v in vendor_list if v.vendor}),
            vendors_by_tax_id=_freeze(by_tax),
            vendors_by_name=_freeze(by_name),
            accounts=MappingProxyType({a.account: a for a in accounts}),
            # Deltek sends an empty WBS2/WBS3 as " "; the cache may keep either spelling.
            projects=MappingProxyType(
                {(p.wbs1.strip(), p.wbs2.strip(), p.wbs3.strip()): p for p in projects}
            ),
            open_periods=tuple(sorted(open_periods, key=lambda p: p.starts_on)),
            maps=MappingProxyType(
                {kind: MappingProxyType(dict(maps.get(kind, {}))) for kind in MAP_KINDS}
            ),
        )

    def mapped(self, kind: str, *coupa_values: str | None) -> str | None:
        """The explicit map of the first of ``coupa_values`` that has one."""
        table = self.maps.get(kind, {})
        for value in coupa_values:
            if value is not None and value in table:
                return table[value]
        return None

    def period_for(self, day: date) -> OpenPeriod | None:
        """The open period containing ``day``, else the earliest open one after it."""
        for period in self.open_periods:
            if period.contains(day) or period.starts_on > day:
                return period
        return None
