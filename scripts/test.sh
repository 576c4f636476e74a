#!/usr/bin/env bash
# Runs headend's whole test suite on a fresh Debian machine: installs the peer
# programs the tests talk to (dig, kdig, knotd, dhclient, udhcpc, dhcpcd,
# dhcrelay, perfdhcp, tftp, atftp, curl, rdate, PostgreSQL, ...), then builds and runs
# every test (the PostgreSQL tests start private clusters of their own).
# DHCP tests create network namespaces and so need root.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  bind9-dnsutils bind9-utils knot knot-dnsutils knot-dnssecutils ldnsutils nsd dnsperf
  isc-dhcp-client isc-dhcp-relay busybox udhcpc dhcpcd-base kea-dhcp4-server kea-admin
  tftpd-hpa tftp-hpa atftp curl dnsmasq-base iproute2 procps util-linux postgresql publicsuffix
  unbound systemd rdate python3 python3-venv
  chromium chromium-driver
  openssl faketime
  prometheus
  kea-dhcp6-server
  kea-dhcp-ddns-server bind9
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node and npm for the OpenID Connect provider below: Debian's packages
# unless a node with its own npm (e.g. NodeSource's nodejs) is there already.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  # Package installs must not start the reference servers as system services.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi

# PyPI decoders the tests check headend's output against (tests/e2e/docsis.rs:
# pydocsis decodes the compiled DOCSIS files), in a venv beside the build.
if [ ! -x target/test-venv/bin/python3 ] || ! target/test-venv/bin/python3 -c 'import pydocsis' 2>/dev/null; then
  python3 -m venv target/test-venv
  target/test-venv/bin/pip install --quiet pydocsis==0.3.40
fi

# An OpenID Connect provider for the single sign-on tests (tests/e2e/oidc.rs):
# node's oidc-provider, pinned, in a folder beside the build (never global).
OIDC_PROVIDER_VERSION=8.8.1
if ! grep -qs "\"version\": \"$OIDC_PROVIDER_VERSION\"" target/oidc-node/node_modules/oidc-provider/package.json; then
  npm install --silent --no-audit --no-fund --prefix target/oidc-node "oidc-provider@$OIDC_PROVIDER_VERSION"
fi

if ! command -v cargo-nextest >/dev/null 2>&1; then
  cargo install --locked cargo-nextest
fi

cargo build --workspace --all-targets
# The Debian package from that debug build, unpacked into a throwaway root and
# checked against the systemd unit (installs cargo-deb when missing).
DEB_PROFILE=dev scripts/package-deb.sh --check
cargo nextest run --workspace --no-fail-fast "$@"
