"""Voice menus (语音导航): which prompt to play, and where a key leads.

A :class:`MenuWalk` is the menu dialogue without the telephone: the call
plays the sounds of each :class:`Play` step, waits for a key, and reports it
with :meth:`MenuWalk.press` (or :meth:`MenuWalk.no_input` when none came in
time) until a :class:`Route` step names the group. Per key a menu leads to a
group, a submenu, repeats itself, or goes back to the menu above. An invalid
key or no input replays the prompt (an invalid key after the invalid-key
sound) until the menu's attempts are used up; then the call goes to the
menu's default group, or the nearest default above it, or the hotline's own
phones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

KeyAction = Literal["group", "submenu", "repeat", "back"]

MAX_LEVELS = 5  # the database refuses deeper menus; the walk never goes deeper either


@dataclass(frozen=True)
class MenuKey:
    key: str
    action: KeyAction
    group_id: int | None = None
    submenu_id: int | None = None


@dataclass(frozen=True)
class Menu:
    id: int
    name: str
    prompt: tuple[str, ...]
    keys: Mapping[str, MenuKey] = field(default_factory=dict)
    timeout_s: int = 5
    attempts: int = 3
    invalid_sound: tuple[str, ...] = ("pbx-invalid",)
    default_group_id: int | None = None


@dataclass(frozen=True)
class Play:
    """Play these sounds, then wait for a key."""

    sounds: tuple[str, ...]
    timeout_s: int


@dataclass(frozen=True)
class Route:
    """The menu is done: ring this group (None: the hotline's own phones)."""

    group_id: int | None
    reason: str


class MenuWalk:
    def __init__(self, menus: Mapping[int, Menu], root: int) -> None:
        self.menus = menus
        self.path = [menus[root]]
        self.keys: list[str] = []  # every key pressed, for the call record
        self.misses = 0

    @property
    def current(self) -> Menu:
        return self.path[-1]

    def start(self) -> Play:
        return self._prompt()

    def press(self, key: str) -> Play | Route:
        self.keys.append(key)
        choice = self.current.keys.get(key)
        if choice is None or (choice.action == "submenu" and (
                choice.submenu_id not in self.menus or len(self.path) >= MAX_LEVELS)):
            return self._missed(invalid=True)
        if choice.action == "group":
            return Route(choice.group_id, f"menu {self.current.name} key {key}")
        if choice.action == "submenu" and choice.submenu_id is not None:
            self.path.append(self.menus[choice.submenu_id])
            self.misses = 0
        elif choice.action == "back" and len(self.path) > 1:
            self.path.pop()
            self.misses = 0
        return self._prompt()  # submenu, back, or repeat (back at the top repeats)

    def no_input(self) -> Play | Route:
        return self._missed(invalid=False)

    def _missed(self, invalid: bool) -> Play | Route:
        self.misses += 1
        if self.misses >= self.current.attempts:
            why = "invalid key" if invalid else "no input"
            for menu in reversed(self.path):
                if menu.default_group_id is not None:
                    return Route(menu.default_group_id,
                                 f"menu {self.current.name} {why}: default of {menu.name}")
            return Route(None, f"menu {self.current.name} {why}: hotline's phones")
        prefix = self.current.invalid_sound if invalid else ()
        return Play(prefix + self.current.prompt, self.current.timeout_s)

    def _prompt(self) -> Play:
        return Play(self.current.prompt, self.current.timeout_s)
