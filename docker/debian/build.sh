#!/usr/bin/env bash
# Builds the Debian packages of the server and the agent with dpkg-deb:
#   target/debian/pganalytics-server_<version>_<arch>.deb
#   target/debian/pganalytics-agent_<version>_<arch>.deb
# from the release binaries (built first unless PGANALYTICS_DEB_SKIP_BUILD=1). Needs dpkg-dev
# (dpkg-shlibdeps) and binutils (strip). See docs/deployment.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
target=${CARGO_TARGET_DIR:-$root/target}
if [ "${PGANALYTICS_DEB_SKIP_BUILD:-}" != 1 ]; then
    cargo build --release --locked -p pganalytics-server -p pganalytics-agent
fi
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
revision=${PGANALYTICS_DEB_REVISION:-1}
arch=$(dpkg --print-architecture)
out=$target/debian
mkdir -p "$out"

# $1 package, $2 the service's user, $3 state directory, $4 extra units, $5 Recommends,
# $6 summary, $7 description paragraph
package() {
    local pkg=$1 user=$2 state=$3 extra_units=$4 recommends=$5 summary=$6 description=$7
    local app=${pkg#pganalytics-}
    local stage=$out/stage/$pkg
    rm -rf "$stage"
    mkdir -p "$stage/DEBIAN"

    install -D -m 0755 "$target/release/$pkg" "$stage/usr/bin/$pkg"
    strip --strip-unneeded "$stage/usr/bin/$pkg"
    install -D -m 0640 "apps/$app/debian/$pkg.toml" "$stage/etc/pganalytics/$pkg.toml"
    install -D -m 0644 "apps/$app/debian/$pkg.service" "$stage/lib/systemd/system/$pkg.service"
    for unit in $extra_units; do
        # A one-shot `check` under exactly the daemon's sandbox: the daemon's unit with
        # its start, restart, readiness and install lines replaced.
        case $unit in
            *-check.service)
                sed -e '/^ConditionPathExists=/d' -e '/^Restart/d' -e '/^ExecReload=/d' \
                    -e '/^NotifyAccess=/d' -e '/^TimeoutStopSec=/d' \
                    -e 's/^Type=notify$/Type=oneshot/' \
                    -e 's/^Description=\(.*\)/Description=\1: check targets, collectors, server and spool/' \
                    -e "s#^ExecStart=\\(.*\\) run\$#ExecStart=\\1 check#" \
                    -e '/^\[Install\]/,$d' \
                    "apps/$app/debian/$pkg.service" >"$stage/lib/systemd/system/$unit"
                grep -q ' check$' "$stage/lib/systemd/system/$unit"
                chmod 0644 "$stage/lib/systemd/system/$unit"
                ;;
            *) echo "no rule for $unit" >&2; exit 1 ;;
        esac
    done
    install -D -m 0644 docs/deployment.md "$stage/usr/share/doc/$pkg/deployment.md"
    install -m 0644 "docs/$app.md" "$stage/usr/share/doc/$pkg/README.md" 2>/dev/null ||
        install -m 0644 docs/operations.md "$stage/usr/share/doc/$pkg/README.md"
    cat >"$stage/usr/share/doc/$pkg/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: pgAnalytics
License: Apache-2.0

Files: *
Copyright: pgAnalytics developers
License: Apache-2.0
 On Debian systems the full text is in /usr/share/common-licenses/Apache-2.0.
COPYRIGHT

    for script in postinst prerm postrm; do
        sed -e "s#@PACKAGE@#$pkg#g" -e "s#@USER@#$user#g" -e "s#@STATE@#$state#g" \
            -e "s#@EXTRA_UNITS@#$extra_units#g" -e "s#@GECOS@#pgAnalytics $app#g" \
            "docker/debian/$script.in" >"$stage/DEBIAN/$script"
        chmod 0755 "$stage/DEBIAN/$script"
    done
    echo "/etc/pganalytics/$pkg.toml" >"$stage/DEBIAN/conffiles"

    # The shared libraries' packages, as dpkg-shlibdeps finds them.
    local shlibs
    shlibs=$(cd "$out/stage" && mkdir -p debian && touch debian/control &&
        dpkg-shlibdeps -O "$stage/usr/bin/$pkg" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
    [ -n "$shlibs" ] || { echo "dpkg-shlibdeps found no dependencies for $pkg" >&2; exit 1; }

    cat >"$stage/DEBIAN/control" <<CONTROL
Package: $pkg
Version: $version-$revision
Architecture: $arch
Maintainer: pgAnalytics developers <pganalytics@localhost>
Section: database
Priority: optional
Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)
Depends: $shlibs, passwd, init-system-helpers (>= 1.54)
Recommends: $recommends
Description: $summary
$(echo "$description" | fold -s -w 78 | sed 's/^/ /')
CONTROL
    dpkg-deb --root-owner-group -Zxz --build "$stage" "$out/${pkg}_${version}-${revision}_${arch}.deb" >/dev/null
    echo "$out/${pkg}_${version}-${revision}_${arch}.deb"
}

package pganalytics-server pganalytics /var/lib/pganalytics "" "postgresql (>= 13), ca-certificates" \
    "pgAnalytics server: ingest, API, alerts and web console" \
    "Enrols pgAnalytics agents with its own certificate authority, ingests their metric batches exactly once into time-partitioned PostgreSQL tables, evaluates alert rules, sends notifications, and serves a REST API and a web console. Without a database URL it runs a private PostgreSQL cluster under /var/lib/pganalytics."
package pganalytics-agent pganalytics-agent /var/lib/pganalytics-agent pganalytics-agent-check.service "ca-certificates" \
    "pgAnalytics agent: PostgreSQL, host and log statistics" \
    "Collects PostgreSQL statistics (13 to 18), host statistics, disk usage and server log events, keeps them in a durable spool, and pushes them to a pgAnalytics server over HTTPS with a client certificate."
rm -rf "$out/stage"
