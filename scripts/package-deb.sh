#!/usr/bin/env bash
# Builds headend's Debian package with cargo-deb (metadata in
# crates/headend/Cargo.toml) into target/debian/, after writing the man pages
# and shell completions it ships (generated from the clap definitions).
#
#   scripts/package-deb.sh            # release build, then the .deb
#   scripts/package-deb.sh --check    # also unpack it (dpkg-deb -x) into a
#                                     # throwaway root and check every file is
#                                     # where the systemd unit expects it
#
# DEB_PROFILE=dev packages the existing debug build without building (what
# scripts/test.sh does, to stay fast); the default is a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
check=false
case "${1:-}" in
  --check) check=true ;;
  "") ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

profile=${DEB_PROFILE:-release}
if ! command -v cargo-deb >/dev/null 2>&1; then
  cargo install --locked cargo-deb
fi
if [ "$profile" = dev ]; then
  bin=target/debug/headend
  [ -x "$bin" ] || cargo build -p headend
else
  cargo build --release -p headend
  bin=target/release/headend
fi

assets=target/deb-assets
rm -rf "$assets"
mkdir -p "$assets/completions"
if command -v strip >/dev/null 2>&1; then
  strip -o "$assets/headend" "$bin"
else
  cp "$bin" "$assets/headend"
fi
"$bin" man --dir "$assets/man"
"$bin" completions bash >"$assets/completions/headend.bash"
"$bin" completions zsh >"$assets/completions/_headend"
"$bin" completions fish >"$assets/completions/headend.fish"

rm -f target/debian/headend_*.deb
log=target/debian/cargo-deb.log
mkdir -p target/debian
cargo deb -p headend --no-build --no-strip --fast --output target/debian/ >"$log" 2>&1 ||
  { cat "$log" >&2; exit 1; }
deb=$(ls target/debian/headend_*.deb)
echo "built $deb ($(stat -c %s "$deb") bytes)"
$check || exit 0

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
dpkg-deb -x "$deb" "$root"
fail() {
  echo "package check: $*" >&2
  exit 1
}
unit=
for dir in usr/lib/systemd/system lib/systemd/system; do
  if [ -f "$root/$dir/headend.service" ]; then unit=$root/$dir/headend.service; fi
done
[ -n "$unit" ] || fail "no headend.service under /usr/lib/systemd/system"

# The binary and config the unit starts.
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
binary=${exec_start%% *}
[ -x "$root$binary" ] || fail "ExecStart names $binary, not in the package"
config=$(sed -n 's/.*--config \([^ ]*\).*/\1/p' <<<"$exec_start")
[ -f "$root$config" ] || fail "ExecStart's --config $config is not in the package"
dpkg-deb -f "$deb" Package >/dev/null
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx "$config" ||
  fail "$config is not a conffile (an upgrade would overwrite the admin's edits)"

# The state directory: StateDirectory= (/var/lib/NAME), the sysusers home,
# the tmpfiles line and the config's general.state_dir all name one folder.
state=/var/lib/$(sed -n 's/^StateDirectory=//p' "$unit")
user=$(sed -n 's/^User=//p' "$unit")
grep -Eq "^u $user .* $state\$" "$root/usr/lib/sysusers.d/headend.conf" ||
  fail "sysusers.d does not create user $user with home $state"
grep -Eq "^d $state [0-7]+ $user $user" "$root/usr/lib/tmpfiles.d/headend.conf" ||
  fail "tmpfiles.d does not create $state owned by $user"
grep -Eq "^state_dir = \"$state\"" "$root$config" || fail "$config's state_dir is not $state"
confdir=/etc/$(sed -n 's/^ConfigurationDirectory=//p' "$unit")
[ "$(dirname "$config")" = "$confdir" ] || fail "the config is not in ConfigurationDirectory $confdir"
postinst=$(dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./postinst)
grep -q "systemd-sysusers .*headend.conf" <<<"$postinst" || fail "postinst does not create the user"
grep -q "systemd-tmpfiles --create headend.conf" <<<"$postinst" || fail "postinst does not create $state"

# The man pages and completions, generated from the command line.
man=$(ls "$root"/usr/share/man/man1/headend.1* 2>/dev/null | head -n 1)
[ -n "$man" ] || fail "no headend.1 man page"
case "$man" in *.gz) page=$(gzip -dc "$man") ;; *) page=$(cat "$man") ;; esac
grep -q '^\.TH headend 1' <<<"$page" || fail "headend.1 is not a man page"
[ -f "$root/usr/share/man/man1/headend-serve.1" ] || [ -f "$root/usr/share/man/man1/headend-serve.1.gz" ] ||
  fail "no headend-serve.1"
for f in usr/share/bash-completion/completions/headend usr/share/zsh/vendor-completions/_headend \
  usr/share/fish/vendor_completions.d/headend.fish; do
  [ -s "$root/$f" ] || fail "no /$f"
done

# The packaged binary runs and accepts the packaged config (what the unit's
# ExecStartPre does), with the state directory moved into the throwaway root.
"$root$binary" --version >/dev/null || fail "$binary --version failed"
sed "s|^state_dir = .*|state_dir = \"$root$state\"|" "$root$config" >"$root/check.toml"
"$root$binary" check --config "$root/check.toml" >/dev/null || fail "headend check rejects $config"
echo "package check: OK ($binary, $config, $state, ${unit#"$root"}, man pages, completions)"
