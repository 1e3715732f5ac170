"""Call recordings: which calls a hotline records (``policy``), how long a
stored file plays (``audio``), the ``recordings`` rows (``rows``) and the purge
of files past their retention (``purge``). The call's side, starting and
collecting a recording, is router/call/recording.py."""
