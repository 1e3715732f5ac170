"""The voice menu dialogue, without a telephone."""

from __future__ import annotations

from router.menu import Menu, MenuKey, MenuWalk, Play, Route

MENUS = {
    1: Menu(1, "main", ("welcome",), {"1": MenuKey("1", "group", group_id=10),
                                       "2": MenuKey("2", "submenu", submenu_id=2),
                                       "0": MenuKey("0", "repeat")},
            attempts=2, default_group_id=99),
    2: Menu(2, "service", ("service",), {"1": MenuKey("1", "group", group_id=20),
                                         "*": MenuKey("*", "back"),
                                         "2": MenuKey("2", "submenu", submenu_id=3)},
            attempts=3),
    3: Menu(3, "deep", ("deep",), {}, attempts=1),
}


def test_a_key_leads_to_a_group() -> None:
    walk = MenuWalk(MENUS, 1)
    assert walk.start() == Play(("welcome",), 5)
    assert walk.press("1") == Route(10, "menu main key 1")


def test_two_levels_deep() -> None:
    walk = MenuWalk(MENUS, 1)
    walk.start()
    assert walk.press("2") == Play(("service",), 5)
    assert walk.press("1") == Route(20, "menu service key 1")
    assert walk.keys == ["2", "1"]


def test_back_returns_to_the_menu_above_and_repeat_replays() -> None:
    walk = MenuWalk(MENUS, 1)
    walk.start()
    walk.press("2")
    assert walk.press("*") == Play(("welcome",), 5)
    assert walk.current.name == "main"
    assert walk.press("0") == Play(("welcome",), 5)
    assert walk.press("*") == Play(("pbx-invalid", "welcome"), 5)  # main has no *
    assert walk.misses == 1


def test_invalid_key_plays_the_invalid_sound_then_the_prompt() -> None:
    walk = MenuWalk(MENUS, 1)
    walk.start()
    assert walk.press("7") == Play(("pbx-invalid", "welcome"), 5)
    assert walk.press("8") == Route(99, "menu main invalid key: default of main")


def test_no_input_retries_then_the_default() -> None:
    walk = MenuWalk(MENUS, 1)
    walk.start()
    assert walk.no_input() == Play(("welcome",), 5)
    assert walk.no_input() == Route(99, "menu main no input: default of main")


def test_a_submenu_without_default_uses_the_nearest_default_above() -> None:
    walk = MenuWalk(MENUS, 1)
    walk.start()
    walk.press("2")
    walk.press("2")
    assert walk.no_input() == Route(99, "menu deep no input: default of main")


def test_no_default_anywhere_means_the_hotlines_own_phones() -> None:
    walk = MenuWalk(MENUS, 2)
    walk.start()
    for _ in range(2):
        assert isinstance(walk.no_input(), Play)
    assert walk.no_input() == Route(None, "menu service no input: hotline's phones")
