"""How values are shown: JSON-friendly rows, local times, and the console's Chinese words.

JSON carries times as UTC ISO 8601 with milliseconds (``2026-10-12T02:37:00.000Z``)
and, where a hotline is involved, the same instant in its zone
(``…_local``, ``2026-10-12T10:37:00.000+08:00``). Pages show local times.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from router.callers import printable
from router.zones import zone

OUTCOMES_ZH = {
    "answered": "已接听", "busy": "占线", "no-answer": "无人接听", "failed": "呼叫失败",
    "abandoned": "来电放弃", "interrupted": "中断", "unknown-number": "空号",
    "not-in-service": "停机", "refused": "拒接", "closed": "非工作时间",
    "mobile-on-800": "800 不接手机", "refused-no-balance": "余额不足",
}
CALL_STATES_ZH = {"routing": "路由中", "menu": "语音导航", "ringing": "振铃中",
                  "queued": "排队中", "talking": "通话中"}
LEG_RESULTS_ZH = {"answered": "接听", "busy": "忙", "no-answer": "未接", "failed": "失败",
                  "cancelled": "取消", "transferred": "已转接", None: "振铃中"}
PLAN_RESULTS_ZH = {"default": "默认接听规则", "group": "分组", "menu": "语音导航",
                   "closed": "非工作时间", "refused": "规则拒接", "blacklisted": "黑名单",
                   "mobile-on-800": "800 号码拒接手机"}
STRATEGIES_ZH = {"sequential": "顺序接听", "random": "随机接听", "round_robin": "循环接听",
                 "simultaneous": "同时振铃", "weighted": "按比例分配",
                 "longest_idle": "最长空闲优先", "fewest_calls": "最少通话优先",
                 "least_talk_time": "最短通话时长优先", "ring_progressively": "逐个追加振铃"}
DAYS_ZH = {"mon": "周一", "tue": "周二", "wed": "周三", "thu": "周四", "fri": "周五",
           "sat": "周六", "sun": "周日", "holiday": "法定假日"}


def iso_utc(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_local(value: datetime | None, zone_name: str | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(zone(zone_name)).isoformat(timespec="milliseconds")


def local_text(value: datetime | None, zone_name: str | None, seconds: bool = True) -> str:
    """``2026-10-12 10:37:05`` in the zone, for people; '' for None."""
    if value is None:
        return ""
    return value.astimezone(zone(zone_name)).strftime(
        "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def plain(value: Any) -> Any:
    """A JSON-friendly value: ISO UTC times with milliseconds, str for ids and decimals."""
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID | Decimal):
        return str(value)
    return value


def as_json(row: Mapping[str, Any], zone_name: str | None = None,
            local: tuple[str, ...] = ()) -> dict[str, Any]:
    """A row as a JSON object; the ``local`` time columns also as ``<name>_local``."""
    out = {name: plain(value) for name, value in dict(row).items()}
    for name in local:
        out[f"{name}_local"] = iso_local(row[name], zone_name)
    return out


def seconds_text(ms: int | float | None) -> str:
    """1234 -> '1.2 秒', 75000 -> '1 分 15 秒'; '' for None."""
    if ms is None:
        return ""
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} 秒"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} 分 {rest} 秒"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} 小时 {minutes} 分"


def percent(rate: float | None) -> str:
    return "–" if rate is None else f"{rate * 100:.1f}%"


def shown(text: str | None) -> str:
    """Text from outside (caller ids, labels) with control characters escaped; None -> ''."""
    return printable(text or "")
