# A Debian host booted with systemd, for the packages' test (apps/server/tests/deploy): the
# packages are installed into it as an operator would, with PostgreSQL from Debian.
ARG BASE_IMAGE=debian:bookworm
FROM ${BASE_IMAGE}
ENV container=docker
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       systemd systemd-sysv dbus ca-certificates curl postgresql-15 \
    && rm -rf /var/lib/apt/lists/* \
    && systemctl mask systemd-logind.service getty.target console-getty.service \
       systemd-udevd.service systemd-udev-trigger.service
STOPSIGNAL SIGRTMIN+3
CMD ["/sbin/init"]
