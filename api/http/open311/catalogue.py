"""The Open311 services: gridledger's ticket categories, as a catalogue.

The domain's `category` is free text; a `Catalogue` maps categories to path-safe service
codes and names. `DEFAULT_CATALOGUE` holds the categories of the simulation
(api/simulation/simulate.py). A ticket whose category is not in the catalogue still
renders, with a code of its own; only the catalogue's services can be requested.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from api.http.open311.errors import Open311Error
from api.http.open311.mapping import Windows, duration, service_notice
from api.http.open311.render import (
    Attribute,
    AttributeValue,
    Service,
    ServiceDefinition,
)
from api.runtime.settings import Settings

SAFE_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
"""What a service_code may be. The georeport client puts it in the URL path unquoted
(`services/{code}.json`): a `/`, `?`, `#` or `.` would break the route."""


@dataclass(frozen=True)
class CategoryService:
    """A ticket category offered as an Open311 service."""

    category: str
    """The ticket's `category`, as the domain stores it."""
    code: str
    name: str
    description: str
    group: str
    keywords: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not SAFE_CODE.match(self.code) or "." in self.code:
            raise ValueError(f"service code {self.code!r} is not URL-path safe")


@dataclass(frozen=True)
class Catalogue:
    """The services offered, and the code of any category a ticket may carry: a
    category outside the catalogue is still rendered (with its own text as the code
    when that is path-safe, else `c-` and the hex of its UTF-8), never refused."""

    services: tuple[CategoryService, ...]
    _by_code: dict[str, CategoryService] = field(init=False, repr=False, compare=False)
    _by_category: dict[str, CategoryService] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_code = {s.code: s for s in self.services}
        by_category = {s.category: s for s in self.services}
        if len(by_code) != len(self.services) or len(by_category) != len(self.services):
            raise ValueError("each service has its own code and its own category")
        object.__setattr__(self, "_by_code", by_code)
        object.__setattr__(self, "_by_category", by_category)

    def code_of(self, category: str) -> str:
        known = self._by_category.get(category)
        if known is not None:
            return known.code
        if SAFE_CODE.match(category) and "." not in category and not category.startswith("c-"):
            return category
        return "c-" + category.encode("utf-8").hex()

    def name_of(self, category: str) -> str:
        known = self._by_category.get(category)
        return known.name if known is not None else category

    def category_of(self, code: str) -> str | None:
        """The category a service code names (None: none known by that code)."""
        known = self._by_code.get(code)
        if known is not None:
            return known.category
        if code.startswith("c-"):
            try:
                category = bytes.fromhex(code[2:]).decode("utf-8")
            except ValueError:
                return None
            # No stored category holds a NUL (the database cannot): `c-00` names none.
            return None if "\x00" in category else category
        return code if SAFE_CODE.match(code) else None

    def offered(self, code: str) -> CategoryService | None:
        """The service a POST may name: only the catalogue's."""
        return self._by_code.get(code)

    def service_list(self) -> list[Service]:
        return [
            Service(
                service_code=s.code,
                service_name=s.name,
                description=s.description,
                metadata=True,  # every service needs its `grid` attribute
                type="realtime",  # POST answers the ticket's id at once
                keywords=s.keywords or None,
                group=s.group,
            )
            for s in self.services
        ]

    def definition(self, code: str, windows: Windows, lang: str = "zh") -> ServiceDefinition:
        service = self.offered(code)
        if service is None:
            raise Open311Error(404, f"service_code {code!r} was not found")
        return ServiceDefinition(service_code=code, attributes=attributes(service, windows, lang))


def attributes(service: CategoryService, windows: Windows, lang: str = "zh") -> list[Attribute]:
    """What a POST for `service` carries besides the spec's fields: the grid (required;
    `address_id` may name it instead), the priority (optional), and the deadlines as an
    informational attribute (variable false). The source (channel) is the client
    application's, fixed when its key was issued: a client does not choose it."""
    zh = lang == "zh"
    return [
        Attribute(
            code="grid",
            datatype="string",
            description="事项所在网格的编码" if zh else "The code of the grid the matter is in",
            datatype_description="网格编码，如 HG-WH-BH-01（也可用 address_id 传入）"
            if zh
            else "A grid code, e.g. HG-WH-BH-01 (address_id may carry it instead)",
            order=1,
            required=True,
        ),
        Attribute(
            code="priority",
            datatype="singlevaluelist",
            description="紧急程度" if zh else "Priority",
            order=2,
            values=(
                AttributeValue("normal", "一般" if zh else "normal"),
                AttributeValue("urgent", "紧急" if zh else "urgent"),
            ),
        ),
        Attribute(
            code="deadlines",
            datatype="string",
            description=service_notice(windows, service.category, "normal", lang)
            + ("（紧急：" if zh else " (urgent: ")
            + duration(windows.resolution_for(service.category, "urgent"), lang)
            + ("）" if zh else ")"),
            order=3,
            variable=False,
        ),
    ]


SIMULATED = (
    # (category and code, name, group, description, keywords)
    ("sanitation", "环境卫生", "市容环境", "楼道、街面、绿化带的垃圾与杂物",
     ("楼道堆物", "垃圾清运", "绿化带垃圾")),
    ("road_facility", "道路设施", "市政设施", "井盖、路灯、人行道等设施损坏",
     ("井盖", "路灯", "人行道")),
    ("street_order", "街面秩序", "市容环境", "占道经营、小广告、沿街晾晒",
     ("占道经营", "小广告")),
    ("parking", "停车管理", "交通秩序", "乱停车、堵塞消防通道、共享单车乱放",
     ("消防通道", "共享单车")),
    ("noise", "噪音扰民", "生活秩序", "夜间施工、广场舞等噪音", ("夜间施工", "广场舞")),
    ("neighbour_dispute", "邻里纠纷", "矛盾调解", "漏水、宠物、公共空间占用等纠纷",
     ("漏水", "宠物扰民")),
    ("property_service", "物业服务", "物业民生", "电梯、门禁、屋顶漏雨",
     ("电梯", "门禁", "漏雨")),
    ("heating_water", "供暖供水", "物业民生", "暖气不热、停水、水管冻裂", ("暖气", "停水")),
    ("safety_hazard", "安全隐患", "安全生产", "楼道充电、燃气老化、广告牌松动",
     ("电动车充电", "燃气", "广告牌")),
    ("illegal_construction", "违法建设", "城市管理", "私搭乱建、楼顶违建", ("私搭乱建",)),
    ("vulnerable_groups", "困难帮扶", "民生保障", "独居老人、困难家庭求助",
     ("独居老人", "困难家庭")),
)  # fmt: skip
DEFAULT_CATALOGUE = Catalogue(
    tuple(
        CategoryService(code, code, name, description, group, keywords)
        for code, name, group, description, keywords in SIMULATED
    )
)
"""The categories of the simulation (api/simulation/simulate.py), as services."""


def catalogue_of(settings: Settings) -> Catalogue:
    """The services the settings offer (`open311_services`), else DEFAULT_CATALOGUE;
    ValueError for two services sharing a code or a category."""
    if not settings.open311_services:
        return DEFAULT_CATALOGUE
    return Catalogue(
        tuple(
            CategoryService(s.category, s.code, s.name, s.description, s.group, tuple(s.keywords))
            for s in settings.open311_services
        )
    )
