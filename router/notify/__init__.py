"""Notifications and call-event webhooks.

The database decides *what* to tell (migrations/0017_notifications.sql: triggers
write outbox rows in the transaction of the record change they announce); this
package only sends: ``dispatcher`` claims due rows, ``payload`` builds what is
said, ``senders`` loads the plug-ins that say it (``webhook`` is built in),
``signing`` signs webhook bodies, ``targets`` is what the admin CLI does.
"""
