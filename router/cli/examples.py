"""One example per command, shown at the end of its ``--help``.

Keyed by the command's words after ``hotline-router``. tests/unit/test_cli_help.py
checks that every command has one and that each parses with the real parser.
"""

from __future__ import annotations

N = "4008001234"

EXAMPLES: dict[str, tuple[str, ...]] = {
    "run": ("hotline-router run --config /etc/hotline-router/router.toml --migrate",),
    "migrate": ("hotline-router migrate --database-url postgresql://postgres@db/hotline_router",),
    "config check": ("hotline-router config check --config /etc/hotline-router/router.toml",),
    "completion": ('eval "$(hotline-router completion bash)"',),
    "hotline add": (f"hotline-router hotline add {N} --strategy sequential --name Sales",),
    "hotline list": ("hotline-router hotline list --json",),
    "hotline show": (f"hotline-router hotline show {N}",),
    "hotline update": (f"hotline-router hotline update {N} --ring-timeout 20",
                       f"hotline-router hotline update {N} --confirm-key 1 "
                       "--whisper hello-world",
                       f"hotline-router hotline update {N} --overflow queue "
                       "--queue-max-waiting 10 --queue-announce-position yes "
                       "--queue-announce-every 30",),
    "hotline delete": (f"hotline-router hotline delete {N}",),
    "hotline enable": (f"hotline-router hotline enable {N}",),
    "hotline disable": (f"hotline-router hotline disable {N}",),
    "phone create": ("hotline-router phone create PJSIP/phones/sip:8002@10.0.0.6 --label desk",),
    "phone add": (f"hotline-router phone add {N} PJSIP/phones/sip:8001@10.0.0.5 --label 前台",),
    "phone list": ("hotline-router phone list",),
    "phone show": ("hotline-router phone show 7",),
    "phone update": ("hotline-router phone update 7 --capacity 2 --wrap-up 30",),
    "phone delete": ("hotline-router phone delete 7",),
    "phone enable": ("hotline-router phone enable 7",),
    "phone disable": ("hotline-router phone disable 7",),
    "binding add": (f"hotline-router binding add {N} 7 --position 1",),
    "binding list": (f"hotline-router binding list {N}",),
    "binding show": (f"hotline-router binding show {N} 7",),
    "binding update": (f"hotline-router binding update {N} 7 --weight 70",
                       f"hotline-router binding update {N} 7 --confirm-key none",),
    "binding delete": (f"hotline-router binding delete {N} 7",),
    "binding enable": (f"hotline-router binding enable {N} 7",),
    "binding disable": (f"hotline-router binding disable {N} 7",),
    "strategies": ("hotline-router strategies",),
    "calls": ("hotline-router calls --since 2026-11-28T00:00:00+08:00",),
    "calls show": ("hotline-router calls show 2a7d0f3e-5c1b-4b8e-9d2a-7f1c3e5a9b01",),
    "stats": (f"hotline-router stats {N} --days 7",),
    "queue": (f"hotline-router queue {N}",),
    "web": ("hotline-router web --listen 127.0.0.1:8096",),
    "local-context add": ("hotline-router local-context add ivr-main --note 'the IVR'",),
    "local-context remove": ("hotline-router local-context remove ivr-main",),
    "local-context list": ("hotline-router local-context list",),
    "notify-target add": (f"hotline-router notify-target add {N} crm "
                          "https://crm.example.com/hooks/calls "
                          "--events call.ringing,call.ended,call.missed --fold-minutes 10",),
    "notify-target list": (f"hotline-router notify-target list {N}",),
    "notify-target enable": (f"hotline-router notify-target enable {N} crm",),
    "notify-target disable": (f"hotline-router notify-target disable {N} crm",),
    "notify-target remove": (f"hotline-router notify-target remove {N} crm",),
    "notifications list": ("hotline-router notifications list --dead",),
    "notifications retry": ("hotline-router notifications retry 812 813",),
    "notifications dispatch": ("hotline-router notifications dispatch --config "
                               "/etc/hotline-router/router.toml",),
    "notifications senders": ("hotline-router notifications senders",),
    "customer add": ("hotline-router customer add 上海某某科技",),
    "customer list": ("hotline-router customer list",),
    "customer assign": (f"hotline-router customer assign 上海某某科技 {N}",),
    "customer unassign": (f"hotline-router customer unassign {N}",),
    "token create": ('hotline-router token create "crm sync" --customer 上海某某科技',
                     'hotline-router token create "ops desk" --operator'),
    "token list": ("hotline-router token list",),
    "token revoke": ("hotline-router token revoke 7",),
    "billing tariff set": (f"hotline-router billing tariff set --hotline {N} --price-fen 12",),
    "billing tariff list": (f"hotline-router billing tariff list --hotline {N}",),
    "billing package add": (
        f"hotline-router billing package add --hotline {N} --from 2026-12-01 "
        "--until 2027-12-01 --prepaid-fen 300000 --included-minutes 500",),
    "billing package list": (f"hotline-router billing package list --hotline {N}",),
    "billing settings": (f"hotline-router billing settings --hotline {N} "
                         "--low-balance-fen 10000",),
    "billing topup": (f"hotline-router billing topup --hotline {N} --fen 50000 "
                      '--note "transfer 2026-12-03"',),
    "billing adjust": (f"hotline-router billing adjust --hotline {N} --fen 500 "
                       '--note "refund: dropped call"',
                       f"hotline-router billing adjust --hotline {N} --fen -300 "
                       '--note "late fee"'),
    "billing balance": (f"hotline-router billing balance --hotline {N}",),
    "billing statement": (f"hotline-router billing statement --hotline {N} --month 2026-10",
                          "hotline-router billing statement --all --month 2026-10 "
                          "--output-dir statements/"),
    "billing rerate": (f"hotline-router billing rerate --hotline {N} --month 2026-10",),
    "billing rate": ("hotline-router billing rate",),
    "billing reconcile": (f"hotline-router billing reconcile Master.csv --hotline {N} "
                          "--month 2026-10",),
    "numbers grade": ("hotline-router numbers grade 4008881888",),
    "numbers import": ("hotline-router numbers import stock.csv",),
    "numbers search": ("hotline-router numbers search --pattern AABB --place tail",),
    "group add": (f"hotline-router group add {N} sales 7 8 --strategy simultaneous",),
    "group add-member": (f"hotline-router group add-member {N} sales 9 --position 1",),
    "group remove-member": (f"hotline-router group remove-member {N} sales 9",),
    "group list": (f"hotline-router group list {N}",),
    "group show": (f"hotline-router group show {N} sales",),
    "group update": (f"hotline-router group update {N} sales --strategy random",
                     f"hotline-router group update {N} sales --confirm-key inherit",),
    "group delete": (f"hotline-router group delete {N} sales",),
    "group enable": (f"hotline-router group enable {N} sales",),
    "group disable": (f"hotline-router group disable {N} sales",),
    "callers add": (f'hotline-router callers add blacklist "+86 138-0013-8000" --hotline {N}',),
    "callers list": (f"hotline-router callers list {N}",),
    "callers show": ("hotline-router callers show 12",),
    "callers update": ('hotline-router callers update 12 --note "repeat caller"',),
    "callers delete": ("hotline-router callers delete 12",),
    "schedule add": (f"hotline-router schedule add {N} office",),
    "schedule hours": (f"hotline-router schedule hours {N} office --days mon-fri "
                       "--opens 09:00 --closes 18:00",),
    "schedule clear-hours": (f"hotline-router schedule clear-hours {N} office",),
    "schedule override": (f"hotline-router schedule override {N} office closed "
                          "--until 2026-12-31T09:00",),
    "schedule list": (f"hotline-router schedule list {N}",),
    "schedule show": (f"hotline-router schedule show {N} office",),
    "schedule update": (f"hotline-router schedule update {N} office --makeup-as mon",),
    "schedule delete": (f"hotline-router schedule delete {N} office",),
    "calendar add": ("hotline-router calendar add 2027-01-01 --to 2027-01-03 --kind holiday "
                     "--name 元旦",),
    "calendar list": ("hotline-router calendar list --year 2026",),
    "calendar show": ("hotline-router calendar show 2027-01-01",),
    "calendar update": ('hotline-router calendar update 2027-01-01 --name "New Year"',),
    "calendar delete": ("hotline-router calendar delete 2027-01-01",),
    "menu add": (f"hotline-router menu add {N} main --prompt demo-congrats --timeout 5",),
    "menu key": (f"hotline-router menu key {N} main 1 group sales",),
    "menu remove-key": (f"hotline-router menu remove-key {N} main 1",),
    "menu list": (f"hotline-router menu list {N}",),
    "menu show": (f"hotline-router menu show {N} main",),
    "menu update": (f"hotline-router menu update {N} main --attempts 2",),
    "menu delete": (f"hotline-router menu delete {N} main",),
    "rule add": (f"hotline-router rule add {N} --action group --group shanghai --region 上海",),
    "rule list": (f"hotline-router rule list {N}",),
    "rule show": ("hotline-router rule show 17",),
    "rule update": ("hotline-router rule update 17 --position 1",),
    "rule delete": ("hotline-router rule delete 17",),
    "rule enable": ("hotline-router rule enable 17",),
    "rule disable": ("hotline-router rule disable 17",),
    "plan settings": (f"hotline-router plan settings {N} --greeting hello-world",),
    "plan show": (f"hotline-router plan show {N}",),
    "plan explain": (f'hotline-router plan explain {N} --caller "+86 139 1234 5678" '
                     "--at 2026-10-01T10:00 --keys 2,3",),
}
