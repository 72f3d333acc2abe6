#!/usr/bin/env bash
# Fetches Debian's CUDA 11.8 headers, the libcuda link stub and NVRTC from
# bookworm's contrib/non-free components into a private prefix (no change
# to the system's apt sources), once; later runs find them there.
#
#   eval "$(scripts/cuda-deps.sh)"     # sets CUDA_PREFIX, CGO_CFLAGS, CGO_LDFLAGS, LD_LIBRARY_PATH
#
# The prefix is $RESNETC_CUDA_PREFIX, or ~/.cache/resnetc/cuda-11.8.
set -euo pipefail
prefix=${RESNETC_CUDA_PREFIX:-$HOME/.cache/resnetc/cuda-11.8}
lib=$prefix/usr/lib/x86_64-linux-gnu
if [ ! -f "$prefix/usr/include/nvrtc.h" ] || [ ! -f "$lib/libnvrtc.so.11.2" ] || [ ! -f "$lib/stubs/libcuda.so" ]; then
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	mkdir -p "$work/lists/partial" "$work/debs"
	# The same mirror the machine already uses, read at run time.
	mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
	mirror=${mirror:-http://deb.debian.org/debian}
	printf 'Types: deb\nURIs: %s\nSuites: bookworm\nComponents: contrib non-free\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$mirror" >"$work/nf.sources"
	o=(-o "Dir::Etc::sourcelist=$work/nf.sources" -o "Dir::Etc::sourceparts=-" -o "Dir::State::Lists=$work/lists")
	apt-get "${o[@]}" -qq update >&2
	(cd "$work/debs" && apt-get "${o[@]}" -qq download nvidia-cuda-dev libnvrtc11.2 libnvrtc-builtins11.8 >&2)
	mkdir -p "$prefix"
	for deb in "$work"/debs/*.deb; do
		dpkg-deb -x "$deb" "$prefix"
	done
	# The link stub's soname is libcuda.so.1; the linker looks for libcuda.so.
	[ -f "$lib/stubs/libcuda.so" ] || { echo "cuda-deps: no libcuda.so stub in $lib/stubs" >&2; exit 1; }
	[ -e "$lib/libnvrtc.so" ] || ln -s libnvrtc.so.11.2 "$lib/libnvrtc.so"
	# Static libraries are 1.5 GB that nothing here links.
	find "$prefix" -name "*.a" -delete
fi
echo "export CUDA_PREFIX='$prefix'"
echo "export CGO_CFLAGS='-I$prefix/usr/include'"
echo "export CGO_LDFLAGS='-L$lib/stubs -L$lib'"
echo "export LD_LIBRARY_PATH='$lib'\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
