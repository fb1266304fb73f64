"""Synthetic community governance for demos and load tests: `gridledger simulate`.

Everything goes through `Governance` (its commands and rules), never raw SQL. The
generator builds a jurisdiction tree, registers a population and its organisations,
publishes rulebooks, then moves a simulated clock day by day; within a day every action
happens in time order, and follow-ups (accepting a ticket, checking out of an activity,
verifying a pledge session) are queued at their own later times. The shape follows the
real figures of docs/domain.md (Qinhuangdao Haigang, Huai'an Qinghe):

- members: five kinds (resident, in-service, retired, mobile, enterprise), party members
  among them; in-service and enterprise party members report in through their
  organisation (双报到), retired and mobile ones where they live; organisations report in
  with their needs, resources and projects; every grid has a grid worker, building and
  unit heads, and party members claim pioneer posts;
- rulebooks per community: attendance, valid report, pledge fulfilled (triggered),
  garbage sorting and most beautiful family (manual, approved by a second person), a
  good-deed rule, an uncivil-behaviour deduction, caps on each; a seasonal winter rule
  published in December and retired in March; a revision of the garbage rule;
- activities scheduled ahead, with check-ins and check-outs (some synced late from an
  offline phone, some forgotten), closed with attendance points, a few cancelled;
- pledges accepted, sessions logged and verified by the grid worker; most fulfilled,
  some lapse at their due date (recorded as the deadline watcher would), some withdrawn;
  fulfilled and lapsed ones reviewed;
- tickets (随手拍, residents, the hotline): most accepted, dispatched, answered within
  the hour and resolved in time; some rejected as duplicates or invalid, some answered
  late or resolved late (the watcher's overdue records come when the clock passes the
  deadline), escalated, supervised, rated dissatisfied and reopened; return visits and
  closing;
- points: manual awards with approvals (a few rejected), deductions (a few reversed on
  appeal), redemptions at the points supermarket, and the year-end clearing (年度清零)
  of everything earned before the new year.

Deterministic for a seed: one `random.Random(seed)` draws everything in a fixed order,
and the clock is simulated, so two runs record the same sequence of events (only the
server-made ids differ). Commands run in `Governance.batch()` units of `batch_size`
commands, one transaction each. A run starts at the clock's local date (the next day if
the clock is not at a local midnight) and leaves the clock at the end, so runs continue
one another; jurisdiction codes carry the seed, so runs with different seeds can share
one store.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import time as wallclock
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from domain.application import Governance
from domain.assessment_policy import DEFAULT_TERMS
from domain.calendar import LOCAL_TZ, local_date
from domain.commands.base import CommandResult, IdentityMap, Meta
from domain.context import SYSTEM, Actor
from domain.errors import DomainError

DEFAULT_START = date(2025, 12, 1)
BATCH_SIZE = 500


@dataclass(frozen=True)
class Scale:
    """The size of a simulated jurisdiction and the rates of what happens in it."""

    districts: int
    streets: int  # per district
    communities: int  # per street
    grids: int  # per community
    members_per_grid: int
    organisations_per_community: float
    tickets_per_grid_day: float
    grid_activities_per_grid_month: float
    community_activities_per_month: float  # per community
    attendees: tuple[int, int]
    pledges_per_party_member_month: float
    pledge_days: tuple[int, int]  # due this many days after the pledge
    garbage_awards_per_grid_day: float
    good_deeds_per_community_day: float
    deductions_per_grid_month: float
    redemptions_per_community_day: float
    newcomers_per_grid_month: float


SCALES: dict[str, Scale] = {
    # For tests: one community of three grids, about fifty members.
    "tiny": Scale(
        districts=1,
        streets=1,
        communities=1,
        grids=3,
        members_per_grid=17,
        organisations_per_community=2,
        tickets_per_grid_day=2.0,
        grid_activities_per_grid_month=4,
        community_activities_per_month=6,
        attendees=(5, 12),
        pledges_per_party_member_month=1.0,
        pledge_days=(7, 21),
        garbage_awards_per_grid_day=1.0,
        good_deeds_per_community_day=0.5,
        deductions_per_grid_month=3,
        redemptions_per_community_day=1.0,
        newcomers_per_grid_month=0.5,
    ),
    # A street's pilot communities running everything: about 1,500 members, 40 grids.
    "small": Scale(
        districts=1,
        streets=2,
        communities=3,
        grids=7,
        members_per_grid=36,
        organisations_per_community=5,
        tickets_per_grid_day=1.2,
        grid_activities_per_grid_month=3,
        community_activities_per_month=6,
        attendees=(10, 25),
        pledges_per_party_member_month=0.15,
        pledge_days=(10, 90),
        garbage_awards_per_grid_day=1.5,
        good_deeds_per_community_day=2.0,
        deductions_per_grid_month=2,
        redemptions_per_community_day=6.0,
        newcomers_per_grid_month=0.4,
    ),
    # Haigang-like: ~1,000 grids, ~100 communities, 30,000 members, ~700 organisations,
    # ~300 activities and ~3,000 tickets a month.
    "district": Scale(
        districts=1,
        streets=10,
        communities=10,
        grids=10,
        members_per_grid=30,
        organisations_per_community=7,
        tickets_per_grid_day=0.1,
        grid_activities_per_grid_month=0.25,
        community_activities_per_month=0.5,
        attendees=(8, 20),
        pledges_per_party_member_month=0.02,
        pledge_days=(14, 120),
        garbage_awards_per_grid_day=0.1,
        good_deeds_per_community_day=0.3,
        deductions_per_grid_month=0.3,
        redemptions_per_community_day=1.0,
        newcomers_per_grid_month=0.3,
    ),
}
SCALES["city"] = replace(SCALES["district"], districts=4)

# ---------------------------------------------------------------------------------------
# Vocabulary, drawn from the seed reports.

DISTRICTS = [("HG", "海港区"), ("SHG", "山海关区"), ("BDH", "北戴河区"), ("FN", "抚宁区")]
STREET_NAMES = "文化路 建设大街 海滨路 东环路 西港路 北环路 红旗路 迎宾路 燕山大街 河东 人民路 和平大街 民族路 友谊路 白塔岭 东港路"  # noqa: E501
COMMUNITY_NAMES = "北环 南山 东港 西苑 柏槐 窑头 仁和 南秦 长二 幸福里 滨海 金茂 港湾 红星 铁东 站前 光明 青云 海阳 东山 太阳城 园林 康乐 秀水 景苑 桃园 新村 永安 华山 紫金"  # noqa: E501
NUMERALS = "一二三四五六七八九十"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"  # noqa: E501
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国文辉春红梅玉志海燕凤德胜淑珍立新晓东"
ORG_PREFIXES = ["海港", "文化", "燕山", "渤海", "港城", "北环", "东环", "金海", "华夏", "红旗"]
ORG_KINDS = [
    "中学",
    "小学",
    "医院",
    "物业公司",
    "银行支行",
    "税务所",
    "供电所",
    "建设集团",
    "超市",
    "幼儿园",
    "派出所",
    "律师事务所",
    "商会",
    "科技公司",
    "港务分公司",
    "邮政支局",
]
NEEDS = ["志愿者招募", "场地支持", "党建共建", "职工子女假期托管", "停车位协调", "消防安全培训"]
RESOURCES = ["会议室", "志愿服务队", "医疗义诊", "法律咨询", "文体场地", "爱心物资", "技术培训"]
PROJECTS = ["四点半课堂", "敬老助餐", "义务理发", "法律进社区", "环境整治", "文明创城", "健康义诊"]
PIONEER_POSTS = ["政策宣传岗", "环境卫生岗", "平安巡逻岗", "文明劝导岗", "邻里调解岗", "关爱帮扶岗"]
ACTIVITIES = [
    "垃圾分类宣传", "义务理发进社区", "楼道清理大扫除", "关爱空巢老人走访", "政策宣讲进楼栋",
    "消防安全演练", "文明交通劝导", "四点半课堂", "健康义诊", "法律咨询进社区", "主题党日",
    "邻里节", "共过政治生日",
]  # fmt: skip
PLEDGES = [
    ("service_item", "每周走访独居老人"), ("service_item", "楼道卫生包保"),
    ("service_item", "四点半课堂辅导"), ("service_item", "垃圾分类桶边督导"),
    ("pioneer_post", "平安巡逻岗值守"), ("pioneer_post", "文明劝导岗值守"),
    ("pioneer_post", "邻里调解岗"), ("commitment", "助老助残结对帮扶"),
    ("commitment", "社区议事协商"), ("service_item", "义务理发"),
]  # fmt: skip
# (category, weight, share urgent, descriptions): the grid worker's "4+N" duties.
CATEGORIES = [
    ("sanitation", 22, 0.02, ["楼道堆放杂物", "垃圾未及时清运", "绿化带内垃圾堆积"]),
    ("road_facility", 14, 0.10, ["井盖缺失", "路灯损坏", "人行道破损"]),
    ("street_order", 12, 0.0, ["占道经营", "乱贴小广告", "沿街晾晒"]),
    ("parking", 9, 0.05, ["车辆乱停堵塞消防通道", "共享单车乱停放"]),
    ("noise", 7, 0.0, ["夜间施工噪音", "广场舞音响过大"]),
    ("neighbour_dispute", 7, 0.0, ["楼上漏水纠纷", "宠物扰民纠纷", "公共空间占用纠纷"]),
    ("property_service", 8, 0.05, ["电梯故障", "单元门禁损坏", "楼顶漏雨"]),
    ("heating_water", 7, 0.25, ["暖气不热", "突发停水", "水管冻裂"]),
    ("safety_hazard", 6, 0.60, ["电动车楼道充电", "燃气管道老化", "广告牌松动"]),
    ("illegal_construction", 3, 0.0, ["私搭乱建", "楼顶违建"]),
    ("vulnerable_groups", 5, 0.20, ["独居老人需要帮扶", "困难家庭求助"]),
]
DEPARTMENTS = ["区城管局", "区住建局", "区市场监管局", "区水务局", "热力公司", "公安分局"]
ITEMS = [("牙膏", 10), ("毛巾", 10), ("抽纸", 15), ("理发券", 20), ("洗衣液", 30), ("食用油", 40)]
RULES: list[tuple[str, dict[str, Any]]] = [
    ("ATTEND", {"description": "参加社区志愿服务活动", "points": 5, "kind": "award",
                "caps": {"per_day": 10, "per_month": 40}, "requires_approval": False,
                "trigger": "activity_attendance"}),
    ("PLEDGE", {"description": "践行承诺完成服务", "points": 20, "kind": "award",
                "caps": {"per_year": 100}, "requires_approval": False,
                "trigger": "pledge_fulfilled"}),
    ("REPORT", {"description": "随手拍有效上报", "points": 2, "kind": "award",
                "caps": {"per_day": 4, "per_month": 20}, "requires_approval": False,
                "trigger": "valid_report"}),
    ("GARBAGE", {"description": "垃圾分类达标", "points": 3, "kind": "award",
                 "caps": {"per_month": 12}, "requires_approval": True, "trigger": "manual"}),
    ("FAMILY", {"description": "最美家庭", "points": 30, "kind": "award",
                "caps": {"per_year": 30}, "requires_approval": True, "trigger": "manual"}),
    ("DEED", {"description": "邻里互助好人好事", "points": 5, "kind": "award",
              "caps": {"per_month": 15}, "requires_approval": False, "trigger": "manual"}),
    ("UNCIVIL", {"description": "不文明行为(乱扔垃圾、高空抛物、占道堆物)", "points": 5,
                 "kind": "deduction", "caps": {"per_month": 15}, "requires_approval": False,
                 "trigger": "manual"}),
]  # fmt: skip
WINTER_RULE: dict[str, Any] = {
    "description": "冬季扫雪铲冰",
    "points": 5,
    "kind": "award",
    "caps": {"per_day": 5},
    "requires_approval": False,
    "trigger": "manual",
}
GARBAGE_REVISED = {**dict(RULES)["GARBAGE"], "points": 4, "description": "垃圾分类达标(提标)"}
MEMBER_KINDS = [
    ("resident", 45),
    ("in_service", 25),
    ("retired", 18),
    ("mobile", 7),
    ("enterprise", 5),
]
PARTY_SHARE = {
    "resident": 0.12,
    "in_service": 0.7,
    "retired": 0.45,
    "mobile": 0.2,
    "enterprise": 0.3,
}
LEVELS = ["grid", "community", "street", "department"]


class SimClock:
    """The simulated clock `Governance` reads; the simulation sets it. It starts at
    `start` (a time, or a date's local midnight; default DEFAULT_START)."""

    def __init__(self, start: datetime | date | None = None) -> None:
        if start is None:
            start = DEFAULT_START
        self.now = start if isinstance(start, datetime) else _at_local(start, 0)

    def __call__(self) -> datetime:
        return self.now

    def set(self, when: datetime) -> None:
        self.now = when


@dataclass
class SimReport:
    """What a simulation did: commands accepted and refused, events written, the sizes."""

    scale: str
    seed: int
    start: date
    end: date
    days_done: int = 0
    events: int = 0
    batches: int = 0
    seconds: float = 0.0
    commands: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    sizes: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def lines(self) -> list[str]:
        """The report as lines of text."""
        out = [
            f"{self.scale} scale, seed {self.seed}: {self.start} to {self.end} ({self.days} days)",
            f"events written: {self.events:,} in {self.batches:,} batches, {self.seconds:.1f}s "
            f"= {self.events_per_second:,.0f} events/s",
            f"commands: {sum(self.commands.values()):,} accepted, "
            f"{sum(self.refused.values()):,} refused; {self.in_flight:,} follow-ups in flight",
            "sizes: " + ", ".join(f"{k} {v:,}" for k, v in self.sizes.items()),
        ]
        out += [f"  {name:<26} {n:>9,}" for name, n in sorted(self.commands.items())]
        out += [f"  refused {name}: {n:,}" for name, n in sorted(self.refused.items())]
        return out


# ---------------------------------------------------------------------------------------
# The shadow state the generator keeps to choose sensible commands.


@dataclass(eq=False)
class Street:
    code: str
    name: str
    staff: Meta


@dataclass(eq=False)
class Community:
    code: str
    name: str
    street: Street
    staff: tuple[Meta, Meta]
    grids: list[Grid] = field(default_factory=list)
    members: list[str] = field(default_factory=list)  # living or reported in here
    party: list[str] = field(default_factory=list)
    organisations: list[str] = field(default_factory=list)
    accounts: dict[str, None] = field(default_factory=dict)  # members who may hold points


@dataclass(eq=False)
class Grid:
    code: str
    name: str
    community: Community
    residents: list[str] = field(default_factory=list)
    worker: Meta | None = None
    worker_id: str | None = None
    heads: list[str] = field(default_factory=list)
    open_tickets: list[SimTicket] = field(default_factory=list)


@dataclass(eq=False)
class SimTicket:
    id: str
    grid: Grid
    category: str
    priority: str
    reporter: str | None
    source: str
    respond_due: datetime
    resolve_due: datetime
    level: str = "grid"
    responded: bool = False
    escalate: bool = False
    supervise: bool = False
    overdue_resolution: bool = False
    rounds: int = 0


@dataclass(eq=False)
class SimPledge:
    id: str
    member: str
    community: Community
    verifier: Meta
    target: Decimal
    due_on: date
    fate: str  # fulfil | lapse | withdraw
    logged: Decimal = Decimal(0)
    open: bool = True
    fulfilled: bool = False


@dataclass(eq=False)
class SimActivity:
    id: str
    organiser: Meta
    community: Community
    starts: datetime
    ends: datetime
    points: bool
    checked_in: list[str] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)


def simulate(
    governance: Governance,
    clock: SimClock,
    scale: str,
    months: int,
    seed: int,
    progress: Callable[[SimReport], None] | None = None,
    *,
    batch_size: int = BATCH_SIZE,
) -> SimReport:
    """Simulate `months` months of `scale` from the clock's day; answer what was done."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}, not {scale!r}")
    if months < 1:
        raise ValueError("months must be at least 1")
    return Simulation(governance, clock, scale, months, seed, batch_size).run(progress)


class Simulation:
    def __init__(
        self,
        governance: Governance,
        clock: SimClock,
        scale: str,
        months: int,
        seed: int,
        batch_size: int,
    ) -> None:
        self.gov = governance
        self.clock = clock
        self.scale = SCALES[scale]
        self.rng = random.Random(seed)
        self.seed = seed
        self.batch_size = batch_size
        start = local_date(clock())
        if clock() != _at_local(start, 0):
            start += timedelta(days=1)
        self.report = SimReport(scale=scale, seed=seed, start=start, end=_add_months(start, months))
        self.admin = Meta(actor=Actor("sim-admin", "admin"))
        self.hotline = Meta(actor=Actor("hotline-12345", "street_staff"))
        self.watcher = Meta(actor=SYSTEM)
        self.queue: list[tuple[datetime, int, Callable[..., None], tuple[Any, ...]]] = []
        self.sequence = itertools.count()
        self.streets: list[Street] = []
        self.communities: list[Community] = []
        self.grids: list[Grid] = []
        self.home: dict[str, Grid] = {}  # member -> home grid
        self.party: dict[str, bool] = {}
        self.due: dict[date, list[SimPledge]] = {}
        self.manual: Counter[tuple[str, str, str, str]] = Counter()  # caps bookkeeping
        self.shown: set[str] = set()  # rare outcomes shown once already
        self.identity = IdentityMap()  # the generator is the store's only writer
        self.winter_rule = False  # whether the seasonal rule is in force

    # -- the loop --------------------------------------------------------------------

    def run(self, progress: Callable[[SimReport], None] | None) -> SimReport:
        first = f"{DISTRICTS[0][0]}{self.seed}"
        try:
            self.gov.jurisdiction(first)
        except DomainError:
            pass
        else:
            raise ValueError(
                f"seed {self.seed} has already been simulated into this store (district "
                f"{first} exists): choose another seed or a fresh database"
            )
        started = wallclock.perf_counter()
        steps = self._steps()
        done = False
        while not done:
            with self.gov.batch(identity=self.identity) as work:
                while work.commands + work.refused < self.batch_size:
                    step = next(steps, None)
                    if step is None:
                        done = True
                        break
                    when, action, args = step
                    self.clock.set(when)
                    action(*args)
            self.report.events += len(work.recordings)
            self.report.batches += 1
            self.report.seconds = wallclock.perf_counter() - started
            if progress is not None:
                progress(self.report)
        self.report.in_flight = len(self.queue)
        self.report.seconds = wallclock.perf_counter() - started
        return self.report

    def _steps(self) -> Iterator[tuple[datetime, Callable[..., None], tuple[Any, ...]]]:
        """Every action in time order: the set-up, then each day's actions and follow-ups."""
        start, end = self.report.start, self.report.end
        yield from self._setup(start)
        day = start
        while day < end:
            self._plan_day(day, first=day == start)
            day_ends = _at_local(day + timedelta(days=1), 0)
            while self.queue and self.queue[0][0] < day_ends:
                when, _, action, args = heapq.heappop(self.queue)
                yield when, action, args
            day += timedelta(days=1)
            self.report.days_done += 1
        if end.month == 1 and end.day == 1:
            # The period closed a year: clear what was earned in it (年度清零).
            yield from self._year_end(end)
        self.clock.set(max(self.clock(), _at_local(end, 0)))

    def _at(self, when: datetime, action: Callable[..., None], *args: Any) -> None:
        heapq.heappush(self.queue, (max(when, self.clock()), next(self.sequence), action, args))

    def _do(self, command: str, *args: Any, **kwargs: Any) -> CommandResult | None:
        """Run a command of `Governance`; a refusal is counted and answers None."""
        try:
            result: CommandResult = getattr(self.gov, command)(*args, **kwargs)
        except DomainError as refused:
            self.report.refused[f"{command}: {type(refused).__name__}"] += 1
            return None
        self.report.commands[command] += 1
        return result

    # -- set-up: the tree, rulebooks, organisations, members, roles --------------------

    def _setup(self, day: date) -> Iterator[tuple[datetime, Callable[..., None], tuple[Any, ...]]]:
        s = self.scale
        commands = s.districts * s.streets * s.communities * s.grids * s.members_per_grid * 3
        step = timedelta(seconds=min(1.0, 6 * 3600 / max(commands, 1)))
        when = _at_local(day, 0)

        def tick() -> datetime:
            nonlocal when
            when += step
            return when

        for d in range(s.districts):
            abbr, district_name = DISTRICTS[d % len(DISTRICTS)]
            district = f"{abbr}{self.seed}" + (f"x{d // len(DISTRICTS)}" if d >= 4 else "")
            yield tick(), self._define, (district, "district", district_name, None)
            yield tick(), self._assessment_policy, (district,)
            for si in range(s.streets):
                street = self._street(district, si)
                yield tick(), self._define, (street.code, "street", street.name, district)
                for ci in range(s.communities):
                    community = self._community(street, ci)
                    yield (
                        tick(),
                        self._define,
                        (community.code, "community", community.name, street.code),
                    )
                    for gi in range(s.grids):
                        grid = Grid(
                            f"{community.code}-{gi + 1:02d}",
                            f"{community.name}{_numeral(gi)}网格",
                            community,
                        )
                        community.grids.append(grid)
                        self.grids.append(grid)
                        yield tick(), self._define, (grid.code, "grid", grid.name, community.code)
        self.winter_rule = _winter(day)
        for community in self.communities:
            for code, terms in RULES:
                yield tick(), self._put_rule, (community, code, terms)
            if self.winter_rule:
                yield tick(), self._put_rule, (community, "WINTER", WINTER_RULE)
            for _ in range(self._count(s.organisations_per_community)):
                yield tick(), self._organisation, (community,)
        for grid in self.grids:
            for _ in range(s.members_per_grid):
                yield tick(), self._member, (grid,)
        for grid in self.grids:
            yield tick(), self._roles, (grid,)
        self.report.sizes.update(
            streets=len(self.streets), communities=len(self.communities), grids=len(self.grids)
        )

    def _define(self, code: str, kind: str, name: str, parent: str | None) -> None:
        self._do("define_jurisdiction", self.admin, code=code, kind=kind, name=name, parent=parent)

    def _assessment_policy(self, district: str) -> None:
        """The district's assessment policy (考核口径): the defaults, recorded as version 1."""
        self._do("put_assessment_policy", self.admin, district, DEFAULT_TERMS)

    def _street(self, district: str, index: int) -> Street:
        names = STREET_NAMES.split()
        name = names[len(self.streets) % len(names)] + "街道"
        code = f"{district}-{index + 1:02d}"
        street = Street(code, name, Meta(actor=Actor(f"staff:{code}", "street_staff")))
        self.streets.append(street)
        return street

    def _community(self, street: Street, index: int) -> Community:
        names = COMMUNITY_NAMES.split()
        n = len(self.communities)
        name = names[n % len(names)] + (str(n // len(names) + 1) if n >= len(names) else "")
        code = f"{street.code}-{index + 1:02d}"
        staff = (
            Meta(actor=Actor(f"staff:{code}:1", "community_staff")),
            Meta(actor=Actor(f"staff:{code}:2", "community_staff")),
        )
        community = Community(code, name + "社区", street, staff)
        self.communities.append(community)
        return community

    def _put_rule(self, community: Community, code: str, terms: dict[str, Any]) -> None:
        self._do("put_rule", community.staff[0], community.code, code, **terms)

    def _retire_rule(self, community: Community, code: str) -> None:
        self._do("retire_rule", community.staff[0], community.code, code)

    def _organisation(self, community: Community) -> None:
        rng = self.rng
        name = rng.choice(ORG_PREFIXES) + rng.choice(ORG_KINDS)
        result = self._do("register_organisation", self.admin, name=name)
        if result is None:
            return
        lists = {
            "needs": rng.sample(NEEDS, rng.randint(1, 3)),
            "resources": rng.sample(RESOURCES, rng.randint(1, 3)),
            "projects": rng.sample(PROJECTS, rng.randint(1, 2)),
        }
        places = [community]
        if rng.random() < 0.2 and len(self.communities) > 1:
            places.append(rng.choice(self.communities))
        for place in places:
            if place.organisations and str(result.id) in place.organisations:
                continue
            staff = place.staff[0]
            if self._do("report_in_organisation", staff, result.id, community=place.code, **lists):
                place.organisations.append(str(result.id))
        self.report.sizes["organisations"] += 1

    def _member(self, grid: Grid, *, newcomer: bool = False) -> None:
        rng = self.rng
        kind = _weighted(rng, MEMBER_KINDS)
        party = rng.random() < PARTY_SHARE[kind]
        lives_here = kind != "in_service" or rng.random() < 0.9
        home = grid if lives_here else None
        result = self._do(
            "register_member", self.admin, name=_name(rng), phone=f"13{rng.randrange(10**9):09d}",
            kind=kind, party_member=party, home_grid=home.code if home else None,
        )  # fmt: skip
        if result is None:
            return
        member = str(result.id)
        community = grid.community
        self.party[member] = party
        self.report.sizes["members"] += 1
        if home is not None:
            self.home[member] = grid
            grid.residents.append(member)
            self._belongs(member, community)
        if (party and kind in ("retired", "mobile")) or (party and kind == "resident" and newcomer):
            self._do(
                "report_in_member", self.admin, member, community=community.code, grid=grid.code
            )
        if kind in ("in_service", "enterprise") and (party or rng.random() < 0.2):
            # 双报到: through the organisation where it is, and where the member lives.
            workplace = rng.choice(self.communities)
            organisation = rng.choice(workplace.organisations) if workplace.organisations else None
            if organisation is not None and self._do(
                "report_in_member", self.admin, member, community=workplace.code,
                organisation_id=organisation,
            ):  # fmt: skip
                self._belongs(member, workplace)
            if home is not None and workplace is not community and party:
                self._do(
                    "report_in_member", self.admin, member, community=community.code, grid=grid.code
                )
        if party and home is not None and rng.random() < 0.15:
            self._claim_pioneer_post(member, grid)

    def _belongs(self, member: str, community: Community) -> None:
        if community.members and community.members[-1] == member:
            return
        community.members.append(member)
        if self.party.get(member):
            community.party.append(member)

    def _claim_pioneer_post(self, member: str, grid: Grid) -> None:
        place = grid.code if self.rng.random() < 0.5 else grid.community.code
        title = self.rng.choice(PIONEER_POSTS)
        self._do(
            "claim_role", self.admin, member, role="pioneer_post", jurisdiction=place, title=title
        )

    def _roles(self, grid: Grid) -> None:
        rng = self.rng
        if not grid.residents:
            return
        worker = rng.choice(grid.residents)
        if self._do("claim_role", self.admin, worker, role="grid_worker", jurisdiction=grid.code):
            grid.worker = Meta(actor=Actor(worker, "grid_worker"))
            grid.worker_id = worker
        for n in range(rng.randint(1, 3)):
            head = rng.choice(grid.residents)
            if head not in grid.heads and self._do(
                "claim_role", self.admin, head, role="building_head", jurisdiction=grid.code,
                title=f"{n + 1}号楼",
            ):  # fmt: skip
                grid.heads.append(head)
        for n in range(rng.randint(0, 1)):
            head = rng.choice(grid.residents)
            self._do(
                "claim_role",
                self.admin,
                head,
                role="unit_head",
                jurisdiction=grid.code,
                title=f"{n + 1}单元",
            )

    # -- each day ----------------------------------------------------------------------

    def _plan_day(self, day: date, *, first: bool) -> None:
        s, rng = self.scale, self.rng
        grids, communities = len(self.grids), len(self.communities)
        days_in_month = 30.0
        if day.month == 1 and day.day == 1 and not first:
            for when, action, args in self._year_end(day):
                self._at(when, action, *args)
        for n, pledge in enumerate(self.due.pop(day - timedelta(days=1), [])):
            self._at(_at_local(day, 0) + timedelta(minutes=5, seconds=n), self._lapse, pledge)
        self._seasons(day, first=first)
        for _ in range(self._count(s.tickets_per_grid_day * grids)):
            self._at(
                _at_local(day, rng.triangular(7.0, 21.5, 10.0)),
                self._report,
                rng.choice(self.grids),
            )
        for _ in range(self._count(s.grid_activities_per_grid_month * grids / days_in_month)):
            grid = rng.choice(self.grids)
            self._at(_at_local(day, rng.uniform(8.5, 17.5)), self._schedule, grid.community, grid)
        for _ in range(self._count(s.community_activities_per_month * communities / days_in_month)):
            self._at(
                _at_local(day, rng.uniform(8.5, 17.5)),
                self._schedule,
                rng.choice(self.communities),
                None,
            )
        party = sum(len(c.party) for c in self.communities)
        for _ in range(self._count(s.pledges_per_party_member_month * party / days_in_month)):
            community = rng.choice(self.communities)
            if community.party:
                self._at(
                    _at_local(day, rng.uniform(9, 21)),
                    self._pledge,
                    community,
                    rng.choice(community.party),
                )
        for _ in range(self._count(s.garbage_awards_per_grid_day * grids)):
            self._at(
                _at_local(day, rng.uniform(8, 11)), self._garbage_award, rng.choice(self.grids)
            )
        for _ in range(self._count(s.good_deeds_per_community_day * communities)):
            self._at(
                _at_local(day, rng.uniform(9, 17)), self._good_deed, rng.choice(self.communities)
            )
        for _ in range(self._count(s.deductions_per_grid_month * grids / days_in_month)):
            self._at(_at_local(day, rng.uniform(8, 20)), self._deduct, rng.choice(self.grids))
        rush = 3.0 if day.month == 12 and day.day >= 20 else 1.0  # before the year-end clearing
        for _ in range(self._count(s.redemptions_per_community_day * communities * rush)):
            self._at(_at_local(day, rng.uniform(9, 18)), self._redeem, rng.choice(self.communities))
        for _ in range(self._count(s.newcomers_per_grid_month * grids / days_in_month)):
            self._at(_at_local(day, rng.uniform(9, 17)), self._newcomer, rng.choice(self.grids))
        if day.day == 1 and not first:
            for community in self.communities:
                if rng.random() < 0.3:
                    when = _at_local(day, rng.uniform(9, 17))
                    self._at(when, self._family_award, community)
        for _ in range(self._count(0.03 * grids / days_in_month)):
            self._at(_at_local(day, rng.uniform(9, 17)), self._hand_over, rng.choice(self.grids))

    def _seasons(self, day: date, *, first: bool) -> None:
        """The winter rule comes in December and goes in March; the garbage rule is raised
        on the tenth day of the run (a new version, which later awards name)."""
        if day.month == 12 and day.day == 1 and not first:
            self.winter_rule = True
            for community in self.communities:
                self._at(_at_local(day, 8), self._put_rule, community, "WINTER", WINTER_RULE)
        if day.month == 3 and day.day == 1 and self.winter_rule:
            self.winter_rule = False
            for community in self.communities:
                self._at(_at_local(day, 8), self._retire_rule, community, "WINTER")
        if day == self.report.start + timedelta(days=9):
            for community in self.communities:
                if self.rng.random() < 0.5:
                    self._at(
                        _at_local(day, 8.5), self._put_rule, community, "GARBAGE", GARBAGE_REVISED
                    )

    def _rare(self, kind: str, chance: float) -> bool:
        """Whether a rare outcome happens: the first time it is asked for it does, so that
        every run, even a tiny one, shows every kind of event; after that, by chance."""
        if kind not in self.shown:
            self.shown.add(kind)
            return True
        return self.rng.random() < chance

    def _count(self, mean: float) -> int:
        """A Poisson count with this mean."""
        if mean <= 0:
            return 0
        if mean > 30:
            return max(0, round(self.rng.gauss(mean, math.sqrt(mean))))
        limit, k, p = math.exp(-mean), 0, self.rng.random()
        while p > limit:
            k += 1
            p *= self.rng.random()
        return k

    def _after(self, minutes: float) -> datetime:
        return self.clock() + timedelta(minutes=minutes)

    # -- tickets -------------------------------------------------------------------------

    def _report(self, grid: Grid) -> None:
        rng = self.rng
        now = self.clock()
        grid.open_tickets = [
            t for t in grid.open_tickets if now - t.respond_due < timedelta(days=2)
        ]
        duplicate = bool(grid.open_tickets) and self._rare("duplicate", 0.04)
        if duplicate:
            original = rng.choice(grid.open_tickets)
            category = original.category
        else:
            category = _weighted_row(rng, CATEGORIES)[0]
        row = next(c for c in CATEGORIES if c[0] == category)
        priority = "urgent" if rng.random() < row[2] else "normal"
        source = _weighted(rng, [("grid_worker", 55), ("resident", 30), ("hotline", 15)])
        reporter: str | None = None
        meta = grid.worker or grid.community.staff[0]
        if source == "resident" and grid.residents:
            reporter = rng.choice(grid.residents)
            meta = Meta(actor=Actor(reporter, "resident"))
        elif source == "hotline":
            meta = self.hotline
            if grid.residents and rng.random() < 0.3:
                reporter = rng.choice(grid.residents)
        description = rng.choice(row[3])
        result = self._do(
            "report_ticket", meta, category=category, description=description, grid=grid.code,
            source=source, priority=priority, reporter_member_id=reporter,
            location={"address": f"{grid.name}{rng.randint(1, 12)}号楼",
                      "lat": 39.93 + rng.uniform(-0.05, 0.05),
                      "lon": 119.60 + rng.uniform(-0.05, 0.05)},
        )  # fmt: skip
        if result is None:
            return
        self.report.sizes["tickets"] += 1
        policy = self.gov.ticket_policy
        ticket = SimTicket(
            id=str(result.id), grid=grid, category=category, priority=priority,
            reporter=reporter, source=source, respond_due=now + policy.response,
            resolve_due=now + policy.resolution_for(category, priority),
        )  # fmt: skip
        staff = grid.community.staff[0]
        if duplicate:
            self._at(self._after(rng.uniform(10, 40)), self._reject, ticket, staff, original.id)
        elif self._rare("invalid", 0.02):
            self._at(self._after(rng.uniform(10, 40)), self._reject, ticket, staff, None)
        else:
            grid.open_tickets.append(ticket)
            self._at(self._after(rng.uniform(3, 20)), self._accept, ticket, staff)

    def _reject(self, ticket: SimTicket, staff: Meta, original: str | None) -> None:
        reason = "duplicate" if original else "invalid"
        self._do("reject_ticket", staff, ticket.id, reason=reason, duplicate_of=original)

    def _accept(self, ticket: SimTicket, staff: Meta) -> None:
        if not self._do("accept_ticket", staff, ticket.id):
            return
        rng = self.rng
        ticket.level = _weighted(
            rng, [("grid", 70), ("community", 20), ("street", 7), ("department", 3)]
        )
        ticket.escalate = ticket.level != "department" and self._rare("escalate", 0.06)
        ticket.supervise = self._rare("supervise", 0.05)
        self._at(self._after(rng.uniform(2, 15)), self._dispatch, ticket)

    def _handler(self, ticket: SimTicket) -> tuple[Meta, str]:
        """Who handles a ticket at its level, and the assignee's name."""
        grid = ticket.grid
        if ticket.level == "grid" and grid.worker is not None:
            return grid.worker, f"网格员 {grid.name}"
        if ticket.level in ("grid", "community"):
            return grid.community.staff[1], f"{grid.community.name}居委会"
        if ticket.level == "street":
            return grid.community.street.staff, f"{grid.community.street.name}综合执法队"
        name = DEPARTMENTS[[c[0] for c in CATEGORIES].index(ticket.category) % len(DEPARTMENTS)]
        return Meta(actor=Actor(f"dept:{name}", "department_staff")), name

    def _dispatch(self, ticket: SimTicket) -> None:
        rng = self.rng
        _, assignee = self._handler(ticket)
        staff = ticket.grid.community.staff[0]
        if not self._do("dispatch_ticket", staff, ticket.id, level=ticket.level, assignee=assignee):
            return
        if not ticket.responded and self._rare("late_response", 0.06):
            # Answered late: the watcher records the missed hour when it passes.
            late = rng.uniform(65, 240)
            respond_at = self.clock() + timedelta(minutes=late)
            watch_at = _next_tick(ticket.respond_due)
            if watch_at < respond_at:
                self._at(watch_at, self._response_overdue, ticket)
            self._at(respond_at, self._respond, ticket)
        else:
            self._at(self._after(rng.uniform(5, 30)), self._respond, ticket)

    def _respond(self, ticket: SimTicket) -> None:
        meta, _ = self._handler(ticket)
        if not self._do("respond_ticket", meta, ticket.id, note="已联系报告人,正在处置"):
            return
        ticket.responded = True
        rng = self.rng
        if ticket.escalate:
            ticket.escalate = False
            self._at(self._after(rng.uniform(60, 360)), self._escalate, ticket)
            return
        window = ticket.resolve_due - self.clock()
        late = ticket.rounds == 0 and self._rare("late_resolution", 0.07)
        if late:
            resolve_at = ticket.resolve_due + timedelta(hours=rng.uniform(1, 48))
            ticket.overdue_resolution = True
            self._at(_next_tick(ticket.resolve_due), self._resolution_overdue, ticket)
        else:
            hours = min(rng.lognormvariate(math.log(6), 0.9), window.total_seconds() / 3600 * 0.95)
            resolve_at = self._after(max(10.0, hours * 60))
        if ticket.supervise:
            ticket.supervise = False
            middle = self.clock() + (resolve_at - self.clock()) / 2
            self._at(middle, self._supervise, ticket)
        self._at(resolve_at, self._resolve, ticket)

    def _response_overdue(self, ticket: SimTicket) -> None:
        self._do("record_response_overdue", self.watcher, ticket.id)

    def _resolution_overdue(self, ticket: SimTicket) -> None:
        self._do("record_resolution_overdue", self.watcher, ticket.id)

    def _escalate(self, ticket: SimTicket) -> None:
        meta, _ = self._handler(ticket)
        to_level = LEVELS[LEVELS.index(ticket.level) + 1]
        reason = "需要上级协调多部门处置" if to_level != "department" else "街道吹哨,部门报到"
        if self._do("escalate_ticket", meta, ticket.id, to_level=to_level, reason=reason):
            ticket.level = to_level
            self._at(self._after(self.rng.uniform(10, 60)), self._dispatch, ticket)

    def _supervise(self, ticket: SimTicket) -> None:
        self._do(
            "supervise_ticket", ticket.grid.community.street.staff, ticket.id, note="督办: 限时办结"
        )

    def _resolve(self, ticket: SimTicket) -> None:
        meta, _ = self._handler(ticket)
        if not self._do("resolve_ticket", meta, ticket.id, resolution="已处置完毕,现场恢复"):
            return
        if ticket.reporter is not None:
            ticket.grid.community.accounts[ticket.reporter] = None
        if ticket in ticket.grid.open_tickets:
            ticket.grid.open_tickets.remove(ticket)
        rng = self.rng
        if (ticket.reporter is not None and rng.random() < 0.85) or (
            ticket.source == "hotline" and rng.random() < 0.45
        ):
            self._at(self._after(rng.uniform(60, 24 * 60)), self._rate, ticket)
        else:
            self._after_rating(ticket)

    def _rate(self, ticket: SimTicket) -> None:
        rng = self.rng
        if ticket.overdue_resolution or ticket.rounds > 0:
            weights = [("satisfied", 55), ("basically_satisfied", 30), ("dissatisfied", 15)]
        else:
            weights = [("satisfied", 82), ("basically_satisfied", 13), ("dissatisfied", 5)]
        satisfaction = _weighted(rng, weights)
        if ticket.rounds == 0 and self._rare("dissatisfied", 0.0):
            satisfaction = "dissatisfied"
        if ticket.rounds > 0 and satisfaction == "dissatisfied":
            satisfaction = "basically_satisfied"
        meta = self.hotline
        if ticket.reporter is not None:
            meta = Meta(actor=Actor(ticket.reporter, "resident"))
        comment = {"satisfied": "处理及时", "dissatisfied": "问题没有解决"}.get(satisfaction)
        if not self._do("rate_ticket", meta, ticket.id, satisfaction=satisfaction, comment=comment):
            return
        if satisfaction == "dissatisfied" and rng.random() < 0.8:
            self._at(self._after(rng.uniform(120, 24 * 60)), self._reopen, ticket)
        else:
            self._after_rating(ticket)

    def _after_rating(self, ticket: SimTicket) -> None:
        rng = self.rng
        if rng.random() < 0.6:
            self._at(self._after(rng.uniform(24 * 60, 3 * 24 * 60)), self._visit, ticket)
        elif rng.random() < 0.97:
            self._at(self._after(rng.uniform(12 * 60, 3 * 24 * 60)), self._close, ticket)

    def _visit(self, ticket: SimTicket) -> None:
        meta = ticket.grid.worker or ticket.grid.community.staff[1]
        if self._do("visit_ticket", meta, ticket.id, note="回访: 居民认可处置结果"):
            self._at(self._after(self.rng.uniform(60, 2 * 24 * 60)), self._close, ticket)

    def _close(self, ticket: SimTicket) -> None:
        if self._do("close_ticket", ticket.grid.community.staff[0], ticket.id) and self._rare(
            "reopen_closed", 0.01
        ):
            self._at(self._after(self.rng.uniform(2 * 24 * 60, 7 * 24 * 60)), self._reopen, ticket)

    def _reopen(self, ticket: SimTicket) -> None:
        staff = ticket.grid.community.staff[0]
        if not self._do("reopen_ticket", staff, ticket.id, reason="问题反复,重新办理"):
            return
        ticket.rounds += 1
        ticket.overdue_resolution = False
        policy = self.gov.ticket_policy
        ticket.resolve_due = self.clock() + policy.resolution_for(ticket.category, ticket.priority)
        self._at(self._after(self.rng.uniform(10, 120)), self._respond, ticket)

    # -- activities ----------------------------------------------------------------------

    def _schedule(self, community: Community, grid: Grid | None) -> None:
        rng = self.rng
        organiser = grid.worker if grid is not None and grid.worker else community.staff[0]
        day = local_date(self.clock()) + timedelta(days=rng.randint(2, 10))
        starts = _at_local(day, rng.choice([9.0, 9.5, 14.5, 15.0, 19.0]))
        ends = starts + timedelta(minutes=rng.choice([90, 120, 150, 180]))
        title = rng.choice(ACTIVITIES + (["扫雪铲冰"] if _winter(day) else []))
        rule = "ATTEND" if rng.random() < 0.8 else None
        result = self._do(
            "schedule_activity", organiser, title=title,
            jurisdiction=grid.code if grid else community.code, starts_at=starts, ends_at=ends,
            points_rule=rule,
        )  # fmt: skip
        if result is None:
            return
        self.report.sizes["activities"] += 1
        activity = SimActivity(str(result.id), organiser, community, starts, ends, rule is not None)
        if self._rare("cancel", 0.05):
            when = starts - timedelta(hours=rng.uniform(3, 30))
            self._at(when, self._cancel, activity)
            return
        pool = grid.residents if grid is not None and len(grid.residents) > 5 else community.members
        low, high = self.scale.attendees
        for member in rng.sample(pool, min(len(pool), rng.randint(low, high))):
            self._plan_attendance(activity, member)
        self._at(ends + timedelta(minutes=rng.uniform(30, 180)), self._close_activity, activity)

    def _plan_attendance(self, activity: SimActivity, member: str) -> None:
        rng = self.rng
        checked_in = activity.starts + timedelta(minutes=rng.uniform(-20, 15))
        offline = rng.random() < 0.1
        synced = checked_in + timedelta(minutes=rng.uniform(10, 40)) if offline else checked_in
        self._at(synced, self._check_in, activity, member, checked_in if offline else None)
        roll = rng.random()
        if roll < 0.04:
            return  # forgets to check out: no hours
        if roll < 0.12:
            out = activity.starts + (activity.ends - activity.starts) * rng.uniform(0.3, 0.7)
        else:
            out = activity.ends + timedelta(minutes=rng.uniform(-25, 20))
        out = max(out, synced + timedelta(minutes=5))
        self._at(out, self._check_out, activity, member)

    def _check_in(self, activity: SimActivity, member: str, field_time: datetime | None) -> None:
        meta = Meta(actor=Actor(member, "resident"), occurred_at=field_time)
        if self._do("check_in", meta, activity.id, member_id=member):
            activity.checked_in.append(member)

    def _check_out(self, activity: SimActivity, member: str) -> None:
        meta = Meta(actor=Actor(member, "resident"))
        if member in activity.checked_in and self._do(
            "check_out", meta, activity.id, member_id=member
        ):
            activity.completed.append(member)

    def _close_activity(self, activity: SimActivity) -> None:
        if self._do("close_activity", activity.organiser, activity.id) and activity.points:
            for member in activity.completed:
                activity.community.accounts[member] = None

    def _cancel(self, activity: SimActivity) -> None:
        reason = self.rng.choice(["天气原因", "场地临时调整", "报名人数不足"])
        self._do("cancel_activity", activity.organiser, activity.id, reason=reason)

    # -- pledges ---------------------------------------------------------------------------

    def _pledge(self, community: Community, member: str) -> None:
        rng = self.rng
        kind, title = rng.choice(PLEDGES)
        target = Decimal(rng.choice([4, 6, 8, 10, 12, 16, 20]))
        fate = _weighted(rng, [("fulfil", 78), ("lapse", 12), ("withdraw", 10)])
        for rare in ("lapse", "withdraw"):
            if self._rare(rare, 0.0):
                fate = rare
                break
        low, high = self.scale.pledge_days
        short = fate == "lapse" and self._rare("short_lapse", 0.5)  # a fortnight's promise
        days = low if short else rng.randint(low, high)
        due_on = local_date(self.clock()) + timedelta(days=days)
        meta = Meta(actor=Actor(member, "resident"))
        result = self._do(
            "make_pledge", meta, member_id=member, community=community.code, kind=kind,
            title=f"我是党员,我承诺: {title}", target_hours=target, due_on=due_on,
        )  # fmt: skip
        if result is None:
            return
        self.report.sizes["pledges"] += 1
        grid = self.home.get(member)
        verifier = community.staff[1]
        if grid is not None and grid.community is community and grid.worker_id != member:
            verifier = grid.worker or verifier
        pledge = SimPledge(str(result.id), member, community, verifier, target, due_on, fate)
        self.due.setdefault(due_on, []).append(pledge)
        if fate == "lapse" and rng.random() < 0.3:
            return  # never accepted: it lapses as pledged
        self._at(self._after(rng.uniform(60, 3 * 24 * 60)), self._accept_pledge, pledge)

    def _accept_pledge(self, pledge: SimPledge) -> None:
        if not pledge.open or not self._do("accept_pledge", pledge.community.staff[0], pledge.id):
            return
        rng = self.rng
        if pledge.fate == "withdraw":
            self._at(self._after(rng.uniform(24 * 60, 10 * 24 * 60)), self._withdraw, pledge)
            if rng.random() < 0.5:
                return
        self._next_session(pledge)

    def _next_session(self, pledge: SimPledge) -> None:
        """Plan the next session: on a later evening, spread so the target fits in time."""
        rng = self.rng
        today = local_date(self.clock())
        days_left = (pledge.due_on - today).days
        if days_left < 1:
            return
        average = Decimal(2)
        sessions_left = max(1, math.ceil((pledge.target - pledge.logged) / average))
        gap = max(1, min(7, days_left // (sessions_left + 1)))
        day = today + timedelta(days=rng.randint(1, gap))
        if pledge.fate == "lapse" and pledge.logged >= pledge.target / 3:
            return  # gives up: the due date will pass
        if day <= pledge.due_on:
            self._at(_at_local(day, rng.uniform(18, 21)), self._log_session, pledge)

    def _log_session(self, pledge: SimPledge) -> None:
        if not pledge.open:
            return
        rng = self.rng
        hours = Decimal(rng.choice([1, 1.5, 2, 2, 3, 3, 4])).quantize(Decimal("0.1"))
        today = local_date(self.clock())
        meta = Meta(actor=Actor(pledge.member, "resident"))
        result = self._do("log_session", meta, pledge.id, hours=hours, on=today, note="服务记录")
        if result is None:
            return
        pledge.logged += hours
        verify_at = min(
            self._after(rng.uniform(30, 30 * 60)),
            _at_local(pledge.due_on, 22) - timedelta(minutes=rng.uniform(0, 30)),
        )
        self._at(verify_at, self._verify, pledge, result.extra["session_no"])
        if pledge.logged < pledge.target:
            self._next_session(pledge)

    def _verify(self, pledge: SimPledge, session_no: int) -> None:
        if not pledge.open:
            return
        result = self._do("verify_session", pledge.verifier, pledge.id, session_no)
        if result is not None and result.extra["status"] == "fulfilled":
            pledge.open = False
            pledge.fulfilled = True
            pledge.community.accounts[pledge.member] = None
            if self.rng.random() < 0.7:
                self._at(
                    self._after(self.rng.uniform(3 * 24 * 60, 10 * 24 * 60)), self._review, pledge
                )

    def _withdraw(self, pledge: SimPledge) -> None:
        if pledge.open:
            reason = self.rng.choice(["工作调动", "身体原因", "岗位调整"])
            if self._do(
                "withdraw_pledge",
                Meta(actor=Actor(pledge.member, "resident")),
                pledge.id,
                reason=reason,
            ):
                pledge.open = False

    def _lapse(self, pledge: SimPledge) -> None:
        """The deadline watcher: an open pledge whose due date has passed lapses."""
        if not pledge.open:
            return
        pledge.open = False
        if self._do("lapse_pledge", self.watcher, pledge.id) and self.rng.random() < 0.5:
            self._at(self._after(self.rng.uniform(24 * 60, 7 * 24 * 60)), self._review, pledge)

    def _review(self, pledge: SimPledge) -> None:
        ratings = [5, 5, 5, 4, 4, 3] if pledge.fulfilled else [1, 2, 3]
        rating = self.rng.choice(ratings)
        self._do(
            "review_pledge", pledge.community.staff[1], pledge.id, rating=rating, comment="践诺评议"
        )

    # -- points ---------------------------------------------------------------------------

    def _fits(
        self, member: str, community: Community, rule: str, points: int, caps: dict[str, int | None]
    ) -> bool:
        """Whether a manual entry stays inside the rule's caps (the generator's own count)."""
        today = local_date(self.clock()).isoformat()
        periods = {"per_day": today, "per_month": today[:7], "per_year": today[:4]}
        for cap, period in periods.items():
            limit = caps.get(cap)
            if (
                limit is not None
                and self.manual[(member, community.code, rule, period)] + points > limit
            ):
                return False
        for period in periods.values():
            self.manual[(member, community.code, rule, period)] += points
        return True

    def _garbage_award(self, grid: Grid) -> None:
        rng = self.rng
        if grid.worker is None or not grid.residents:
            return
        member = rng.choice(grid.residents)
        caps = dict(RULES)["GARBAGE"]["caps"]
        if member == grid.worker_id or not self._fits(member, grid.community, "GARBAGE", 4, caps):
            return
        source = f"{grid.code}/{local_date(self.clock())}/{rng.randrange(10**6)}"
        result = self._do(
            "award_points", grid.worker, member_id=member, community=grid.community.code,
            rule_code="GARBAGE", source_kind="inspection", source_id=source, note="桶边督导检查",
        )  # fmt: skip
        if result is None:
            return
        grid.community.accounts[member] = None
        self._at(
            self._after(rng.uniform(60, 3 * 24 * 60)),
            self._review_award,
            grid.community,
            result.extra["entry_id"],
        )

    def _review_award(self, community: Community, entry_id: str) -> None:
        staff = community.staff[0]
        if self._rare("reject_award", 0.05):
            self._do("reject_award", staff, entry_id, reason="检查记录不完整")
        elif self.rng.random() < 0.97:
            self._do("approve_award", staff, entry_id)

    def _family_award(self, community: Community) -> None:
        if not community.members:
            return
        member = self.rng.choice(community.members)
        caps = dict(RULES)["FAMILY"]["caps"]
        if not self._fits(member, community, "FAMILY", 30, caps):
            return
        result = self._do(
            "award_points", community.staff[1], member_id=member, community=community.code,
            rule_code="FAMILY", source_kind="selection", source_id=f"{community.code}/{local_date(self.clock()):%Y-%m}",  # noqa: E501
            note="最美家庭评选",
        )  # fmt: skip
        if result is not None:
            community.accounts[member] = None
            self._at(
                self._after(self.rng.uniform(60, 2 * 24 * 60)),
                self._review_award,
                community,
                result.extra["entry_id"],
            )

    def _good_deed(self, community: Community) -> None:
        if not community.members:
            return
        rng = self.rng
        member = rng.choice(community.members)
        winter = self.winter_rule and rng.random() < 0.3
        rule, terms = ("WINTER", WINTER_RULE) if winter else ("DEED", dict(RULES)["DEED"])
        if not self._fits(member, community, rule, terms["points"], terms["caps"]):
            return
        result = self._do(
            "award_points", community.staff[1], member_id=member, community=community.code,
            rule_code=rule, source_kind="deed", source_id=f"{local_date(self.clock())}/{rng.randrange(10**6)}",  # noqa: E501
            note="好人好事登记",
        )  # fmt: skip
        if result is not None:
            community.accounts[member] = None

    def _deduct(self, grid: Grid) -> None:
        rng = self.rng
        if not grid.residents:
            return
        member = rng.choice(grid.residents)
        terms = dict(RULES)["UNCIVIL"]
        if not self._fits(member, grid.community, "UNCIVIL", terms["points"], terms["caps"]):
            return
        meta = grid.worker if grid.worker_id != member and grid.worker else grid.community.staff[0]
        result = self._do(
            "deduct_points", meta, member_id=member, community=grid.community.code,
            rule_code="UNCIVIL", source_kind="inspection",
            source_id=f"{grid.code}/{local_date(self.clock())}/{rng.randrange(10**6)}",
            note=rng.choice(["乱扔垃圾", "高空抛物", "占道堆物", "不文明养犬"]),
        )  # fmt: skip
        if result is None:
            return
        grid.community.accounts[member] = None
        if self._rare("appeal", 0.1):
            # Appealed and upheld: the deduction is reversed.
            when = self._after(rng.uniform(24 * 60, 5 * 24 * 60))
            self._at(when, self._reverse, grid.community, result.extra["entry_id"])

    def _reverse(self, community: Community, entry_id: str) -> None:
        self._do("reverse_entry", community.staff[1], entry_id, reason="居民申诉核实有误")

    def _redeem(self, community: Community) -> None:
        if not community.accounts:
            return
        rng = self.rng
        members = list(community.accounts)
        member = members[rng.randrange(len(members))]
        try:
            balance = self.gov.points_account(member, community.code).balance
        except DomainError:
            return  # no account yet: nothing earned
        affordable = [item for item in ITEMS if item[1] <= balance]
        if not affordable:
            return
        item, points = rng.choice(affordable)
        self._do(
            "redeem_points",
            community.staff[0],
            member_id=member,
            community=community.code,
            item=item,
            points=points,
        )

    def _year_end(
        self, new_year: date
    ) -> Iterator[tuple[datetime, Callable[..., None], tuple[Any, ...]]]:
        when = _at_local(new_year, 0.5)
        for community in self.communities:
            for member in list(community.accounts):
                when += timedelta(milliseconds=100)
                yield when, self._expire, (community, member, new_year)

    def _expire(self, community: Community, member: str, before: date) -> None:
        self._do(
            "expire_points", self.watcher, member_id=member, community=community.code, before=before
        )

    # -- the population changes -------------------------------------------------------------

    def _newcomer(self, grid: Grid) -> None:
        self._member(grid, newcomer=True)

    def _hand_over(self, grid: Grid) -> None:
        """A building head moves away and a neighbour takes over the building."""
        if not grid.heads or len(grid.residents) < 2:
            return
        leaving = grid.heads[0]
        if not self._do(
            "release_role", self.admin, leaving, role="building_head", jurisdiction=grid.code
        ):
            return
        grid.heads.remove(leaving)
        successor = self.rng.choice(grid.residents)
        if successor not in grid.heads and self._do(
            "claim_role", self.admin, successor, role="building_head", jurisdiction=grid.code,
            title="1号楼",
        ):  # fmt: skip
            grid.heads.append(successor)


# ---------------------------------------------------------------------------------------


def _at_local(day: date, hours: float) -> datetime:
    """The UTC instant `hours` after local midnight of `day`."""
    midnight = datetime.combine(day, time(0), tzinfo=LOCAL_TZ)
    return (midnight + timedelta(hours=hours)).astimezone(UTC)


def _next_tick(when: datetime) -> datetime:
    """The watcher's next round after `when` (it runs every five minutes)."""
    return when + timedelta(minutes=5 - when.minute % 5, seconds=-when.second)


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    return date(day.year + month // 12, month % 12 + 1, min(day.day, 28))


def _winter(day: date) -> bool:
    return day.month in (12, 1, 2)


def _numeral(index: int) -> str:
    if index < 10:
        return NUMERALS[index]
    tens, ones = divmod(index + 1, 10)
    return (NUMERALS[tens - 1] if tens > 1 else "") + "十" + (NUMERALS[ones - 1] if ones else "")


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))


def _weighted(rng: random.Random, choices: list[tuple[str, int]]) -> str:
    return rng.choices([c[0] for c in choices], weights=[c[1] for c in choices])[0]


def _weighted_row(rng: random.Random, rows: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    return rng.choices(rows, weights=[r[1] for r in rows])[0]
