"""The voice menu dialogue (语音导航): prompts, keys, and the group they lead to.

The menu's rules are pure (router/menu.py: ``MenuWalk``); this plays its
prompts to the caller, reads the keys, and records what was pressed and
where it led.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from router import menu, plan
from router.directory import Hotline
from router.records.kinds import MenuKeys, PlanRouted

if TYPE_CHECKING:
    from router.call.story import Call


async def walk_menu(call: Call, hotline: Hotline, decision: plan.Decision) -> plan.Group | None:
    """The group the caller's keys lead to (None: the hotline's default).

    Raises CallerLeft when the caller hangs up in the menu (the keys pressed
    so far are recorded).
    """
    assert decision.menu_id is not None
    walk = menu.MenuWalk(hotline.plan.menus, decision.menu_id)
    step: menu.Play | menu.Route = walk.start()
    call.log.info("voice menu", menu=walk.current.name)
    try:
        while isinstance(step, menu.Play):
            key = await call.media.prompt_for_key(step.sounds, step.timeout_s)
            step = walk.no_input() if key is None else walk.press(key)
            call.log.info("menu key", key=key, menu=walk.current.name)
    finally:
        call.recorder.add(MenuKeys(call.id, ",".join(walk.keys), call.started_at))
    group = hotline.plan.groups.get(step.group_id or 0)
    if group is not None and not group.enabled:
        group = None
    result = "group" if group else "default"
    reason = f"{decision.reason} -> {step.reason}"
    reason += f" -> group {group.name}" if group else ""
    call.log.info("menu done", result=result, reason=reason)
    call.recorder.add(PlanRouted(call.id, result, reason, group.name if group else None,
                                    call.started_at))
    return group
