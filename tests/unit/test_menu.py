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


def chain(levels: int) -> dict[int, Menu]:
    """Menus 1 … ``levels``, key 1 of each leading to the next, key 9 to group 90+n."""
    return {n: Menu(n, f"level{n}", (f"prompt{n}",),
                    {"1": MenuKey("1", "submenu", submenu_id=n + 1),
                     "9": MenuKey("9", "group", group_id=90 + n)}, attempts=3)
            for n in range(1, levels + 1)}


def test_menus_go_five_levels_deep_and_no_deeper() -> None:
    walk = MenuWalk(chain(6), 1)
    walk.start()
    for level in range(2, 6):
        assert walk.press("1") == Play((f"prompt{level}",), 5)
    assert [m.id for m in walk.path] == [1, 2, 3, 4, 5]
    # level 5 leads to a sixth menu: refused as an invalid key, the walk stays put
    assert walk.press("1") == Play(("pbx-invalid", "prompt5"), 5)
    assert walk.current.id == 5
    assert walk.press("9") == Route(95, "menu level5 key 9")


def test_a_key_to_a_missing_submenu_is_an_invalid_key() -> None:
    menus = {1: Menu(1, "main", ("welcome",), {"2": MenuKey("2", "submenu", submenu_id=7)},
                     attempts=2)}
    walk = MenuWalk(menus, 1)
    walk.start()
    assert walk.press("2") == Play(("pbx-invalid", "welcome"), 5)
    assert walk.press("2") == Route(None, "menu main invalid key: hotline's phones")
    assert walk.keys == ["2", "2"]


def test_repeat_in_a_submenu_replays_the_submenu() -> None:
    walk = MenuWalk(MENUS | {2: Menu(2, "service", ("service",),
                                     {"0": MenuKey("0", "repeat")})}, 1)
    walk.start()
    walk.press("2")
    assert walk.press("0") == Play(("service",), 5)
    assert walk.current.name == "service"


def test_back_on_the_top_menu_repeats_it() -> None:
    menus = {1: Menu(1, "main", ("welcome",), {"*": MenuKey("*", "back")})}
    walk = MenuWalk(menus, 1)
    walk.start()
    assert walk.press("*") == Play(("welcome",), 5)
    assert walk.press("*") == Play(("welcome",), 5)
    assert walk.current.name == "main"
    assert walk.misses == 0


def test_a_repeat_key_that_names_a_submenu_still_repeats() -> None:
    menus = {1: Menu(1, "main", ("welcome",), {"0": MenuKey("0", "repeat", submenu_id=2)}),
             2: Menu(2, "other", ("other",))}
    walk = MenuWalk(menus, 1)
    walk.start()
    assert walk.press("0") == Play(("welcome",), 5)
    assert walk.current.name == "main"


def test_entering_a_submenu_or_going_back_starts_its_attempts_afresh() -> None:
    menus = {1: Menu(1, "main", ("welcome",), {"2": MenuKey("2", "submenu", submenu_id=2)},
                     attempts=2, default_group_id=99),
             2: Menu(2, "service", ("service",), {"*": MenuKey("*", "back")}, attempts=2)}
    walk = MenuWalk(menus, 1)
    walk.start()
    assert walk.no_input() == Play(("welcome",), 5)       # 1 of 2 used in main
    assert walk.press("2") == Play(("service",), 5)
    assert walk.misses == 0
    assert walk.no_input() == Play(("service",), 5)       # 1 of 2 in service
    assert walk.press("*") == Play(("welcome",), 5)
    assert walk.misses == 0
    assert walk.no_input() == Play(("welcome",), 5)
    assert walk.no_input() == Route(99, "menu main no input: default of main")


def test_a_menus_own_timeout_and_invalid_sound() -> None:
    menus = {1: Menu(1, "main", ("welcome",), timeout_s=8, attempts=2,
                     invalid_sound=("beep", "sorry"))}
    walk = MenuWalk(menus, 1)
    assert walk.start() == Play(("welcome",), 8)
    assert walk.press("5") == Play(("beep", "sorry", "welcome"), 8)
    assert walk.press("5") == Route(None, "menu main invalid key: hotline's phones")
