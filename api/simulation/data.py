"""The simulated district's figures: its scales, names, categories and rulebook."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any

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
