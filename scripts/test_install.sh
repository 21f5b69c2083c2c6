#!/usr/bin/env bash
# test_install.sh BUILD_DIR — hcg as other programs see it, from a build folder that is already
# built (scripts/test.sh calls it after the suite):
#   - `cmake --install` into a temporary prefix: the libraries (SONAME), the header, the CMake
#     package, hcg.pc, the command and its manual page;
#   - `nm -D` on the shared library: only hcg_* symbols are exported;
#   - examples/run_model.c found through find_package(hcg) (shared and static library) and built
#     with `pkg-config --cflags --libs hcg` runs the bundled attention model and matches PyTorch's
#     output; the installed `hcg` command does too;
#   - tools/ (the `hcg` command's sources) compiles and links against the installed package alone;
#   - the Python package installs into a fresh venv (NumPy from PyPI, else the system's) and its
#     tests and examples/run_model.py pass against the installed library;
#   - `cpack -G DEB` makes a Debian package holding the same files.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=$(cd "${1:-build-test}" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/hcg-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
python=/usr/bin/python3
[ -x "$python" ] || python=python3
model=(models/attention/attention.hcg x models/attention/x.npy y models/attention/expected_x.npy)
fail() { echo "test_install: $*" >&2; exit 1; }

echo "== install into a temporary prefix"
cmake --install "$build" --prefix "$prefix" > "$work/install.log" || { cat "$work/install.log"; fail "cmake --install failed"; }
lib=$(dirname "$(find "$prefix" -name 'libhcg.so' | head -1)")
[ -n "$lib" ] || fail "no libhcg.so under $prefix"
for f in include/hcg/hcg.h bin/hcg share/man/man1/hcg.1; do [ -f "$prefix/$f" ] || fail "$f is not installed"; done
for f in libhcg.a cmake/hcg/hcgConfig.cmake cmake/hcg/hcgTargets.cmake cmake/hcg/hcgConfigVersion.cmake pkgconfig/hcg.pc; do
  [ -f "$lib/$f" ] || fail "$lib/$f is not installed"
done
soname=$(readelf -d "$lib/libhcg.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = "libhcg.so.0.2" ] || fail "SONAME is '$soname', not libhcg.so.0.2"
echo "installed: $(cd "$prefix" && find . -type f | sort | tr '\n' ' ')"

echo "== exported symbols"
exported=$(nm -D --defined-only "$lib/libhcg.so" | awk '{print $3}')
others=$(echo "$exported" | grep -v '^hcg_' || true)
[ -z "$others" ] || fail "libhcg.so exports symbols outside the API: $(echo "$others" | head -20 | tr '\n' ' ')"
echo "$(echo "$exported" | wc -l) symbols, all hcg_*"

echo "== the installed hcg command"
"$prefix/bin/hcg" run "${model[0]}" --devices cpu --input x=models/attention/x.npy --output-dir "$work/out" --quiet
"$prefix/bin/hcg" compare "$work/out/y.npy" models/attention/expected_x.npy
man -l "$prefix/share/man/man1/hcg.1" > /dev/null 2>&1 || grep -q '^\.SS generate' "$prefix/share/man/man1/hcg.1" ||
  fail "the manual page has no section for generate"

echo "== a C program through find_package(hcg)"
cmake -S examples -B "$work/examples" -DCMAKE_PREFIX_PATH="$prefix" > "$work/examples.log" 2>&1 ||
  { cat "$work/examples.log"; fail "configuring examples/ failed"; }
cmake --build "$work/examples" -j"$(nproc)" >> "$work/examples.log" 2>&1 || { cat "$work/examples.log"; fail "building examples/ failed"; }
"$work/examples/run_model" "${model[@]}" auto
"$work/examples/run_model_static" "${model[@]}" cpu

echo "== a C program through pkg-config"
export PKG_CONFIG_PATH="$lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
flags=$(pkg-config --cflags --libs hcg)
echo "pkg-config --cflags --libs hcg: $flags"
# shellcheck disable=SC2086
cc -std=c11 -Wall -Wextra -Werror examples/run_model.c $flags -lm -o "$work/run_model_pc"
LD_LIBRARY_PATH="$lib" "$work/run_model_pc" "${model[@]}" auto

echo "== tools/ against the installed package alone"
# only the installed include folder: a tools/ file that reached for an internal header fails here
# shellcheck disable=SC2086
cc -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wall -Wextra -Wno-unused-parameter -Werror tools/*.c \
  $flags $(pkg-config --cflags --libs libcjson) -lm -o "$work/hcg-from-install"
LD_LIBRARY_PATH="$lib" "$work/hcg-from-install" run "${model[0]}" --input x=models/attention/x.npy --output-dir "$work/out2" --quiet
LD_LIBRARY_PATH="$lib" "$work/hcg-from-install" compare "$work/out2/y.npy" models/attention/expected_x.npy

echo "== the Python package in a fresh venv"
"$python" -m venv "$work/venv"
pip=("$work/venv/bin/python" -m pip --disable-pip-version-check -q --cache-dir "$build/pip-cache")
if "${pip[@]}" install numpy > "$work/pip.log" 2>&1; then
  "${pip[@]}" install ./python # builds in pip's isolated environment (setuptools from PyPI)
else
  echo "(NumPy from PyPI failed: $(tail -1 "$work/pip.log"); using the system's NumPy and setuptools)"
  rm -rf "$work/venv"
  "$python" -m venv --system-site-packages "$work/venv"
  "${pip[@]}" install --no-build-isolation ./python
fi
(cd "$work" && "$work/venv/bin/python" -c "import hcg, sys; print('hcg', hcg.version(), 'from', hcg.__file__, 'numpy', hcg.np.__version__)" &&
  HCG_SOURCE_DIR="$root" "$work/venv/bin/python" -m unittest discover -s "$root/python/tests" &&
  "$work/venv/bin/python" "$root/examples/run_model.py" "${model[0]/#/$root/}" x "$root/${model[2]}" y "$root/${model[4]}" auto)

echo "== a Debian package (cpack)"
(cd "$build" && cpack -G DEB > "$work/cpack.log" 2>&1) || { cat "$work/cpack.log"; fail "cpack -G DEB failed"; }
deb=$(ls -t "$build"/hcg_*.deb | head -1)
contents=$(dpkg-deb -c "$deb")
for f in usr/include/hcg/hcg.h usr/lib/pkgconfig/hcg.pc usr/lib/cmake/hcg/hcgConfig.cmake usr/bin/hcg usr/lib/libhcg.so.0.2; do
  grep -q "$f" <<< "$contents" || fail "$deb lacks $f"
done
echo "$deb: $(dpkg-deb -f "$deb" Package Version | tr '\n' ' ')"
echo "install checks passed"
