"""The web console and JSON API: `hotline-router web`, a process of its own.

It shares the project's code and database but not the routing daemon's
process, so back-office load never sits on the call path and it runs with its
own database login (role hotline_router_web). See docs/web.md.
"""
