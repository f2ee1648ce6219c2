#!/bin/sh
# Build the Debian package from this tree: a copy under BUILD/deb/ (so debhelper's files never land in
# the work tree), dpkg-buildpackage there, the .deb copied to BUILD/, then lintian (errors fail).
#   scripts/deb.sh [BUILD]
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
version=$(sed -n 's/^originmail (\([^)]*\)).*/\1/p' debian/changelog | head -1)
top=$build/deb
src=$top/originmail-$version
rm -rf "$top"
mkdir -p "$src"
# What git knows (committed or not, untracked but not ignored); outside git, everything but build/.
if git rev-parse --git-dir >/dev/null 2>&1; then
	git ls-files --cached --others --exclude-standard | while IFS= read -r f; do
		if [ -e "$f" ]; then echo "$f"; fi
	done | xargs -d '\n' cp --parents -t "$src"
else
	tar --exclude=./build -cf - . | tar -C "$src" -xf -
fi
(cd "$src" && dpkg-buildpackage -b -us -uc -j"$(nproc)" >../build.log 2>&1) || {
	tail -40 "$top/build.log"
	echo "deb: dpkg-buildpackage failed (log: $top/build.log)" >&2
	exit 1
}
rm -f "$build"/originmail_*.deb
cp "$top"/originmail_"$version"_*.deb "$build"/
deb=$(ls "$build"/originmail_"$version"_*.deb)
echo "deb: $deb"
dpkg-deb --field "$deb" Depends | sed 's/^/deb: Depends: /'
# Warnings kept are listed, and why, in README ("Install on Debian").
lintian --fail-on error "$deb" || {
	echo "deb: lintian reports errors" >&2
	exit 1
}
echo "deb: lintian: no errors"
