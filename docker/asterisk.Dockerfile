# Asterisk for hotline-router: Debian's asterisk package, configured at run time
# by mounting dialplan/ (or a copy with site files) at /etc/asterisk.
FROM debian:sid-slim

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      asterisk asterisk-core-sounds-en-gsm asterisk-moh-opsound-gsm \
 && rm -rf /var/lib/apt/lists/* \
 && install -d -o asterisk -g asterisk /run/asterisk /var/log/asterisk/cdr-custom

USER asterisk
# SIP (5060/udp), ARI and HTTP (8088/tcp), RTP (10000-10999/udp, see rtp.conf)
EXPOSE 5060/udp 8088/tcp 10000-10999/udp
# -f: stay in the foreground; no console, logs go to /var/log/asterisk.
CMD ["/usr/sbin/asterisk", "-f", "-n"]
