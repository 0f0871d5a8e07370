#!/usr/bin/env bash
# Builds the libFuzzer targets with the address sanitizer (see Fuzz/README.md):
#   .build-fuzz/fuzz-parser  .build-fuzz/fuzz-gzip  .build-fuzz/fuzz-mmdb
#
# Each library module is compiled by swiftc from its sources as SwiftPM would, with
# `-sanitize=fuzzer,address` (coverage for libFuzzer, ASan checks), then every target is
# Fuzz/Entry/FuzzEntry.swift linked with the modules and libFuzzer's main. Needs only the Swift
# toolchain (its clang and libFuzzer) and zlib's headers; ISA-L's header is used when present,
# as in the package. Does nothing when the binaries are newer than every source they come
# from; `--force` rebuilds anyway. FUZZ_BUILD_DIR overrides the output directory.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
out="${FUZZ_BUILD_DIR:-$root/.build-fuzz}"
targets=(parser gzip mmdb)
sources=("$root/Sources/LogSurgeCore" "$root/Sources/LogSurgeParse" "$root/Sources/LogSurgeInput" "$root/Sources/LogSurgeGeo"
         "$root/Sources/CISAL" "$root/Sources/CZlib" "$root/Sources/CGeoData" "$root/Sources/CLogSurgeSystem"
         "$root/Fuzz/Checks" "$root/Fuzz/Entry" "$root/Fuzz/build.sh")

if [ "${1:-}" != "--force" ]; then
    fresh=1
    for target in "${targets[@]}"; do
        binary="$out/fuzz-$target"
        if [ ! -x "$binary" ] || [ -n "$(find "${sources[@]}" -newer "$binary" -print -quit)" ]; then fresh=0; fi
    done
    if [ "$fresh" = 1 ]; then exit 0; fi
fi

swiftc="$(command -v "${SWIFTC:-swiftc}")"
toolchain="$(dirname "$(readlink -f "$swiftc")")"
clang="${CLANG:-$toolchain/clang}"
linker=()
if [ -x "$toolchain/ld.lld" ]; then linker=(-use-ld=lld); fi

mkdir -p "$out/modules" "$out/objects" "$out/modulemaps/CISAL" "$out/modulemaps/CGeoData" "$out/modulemaps/CLogSurgeSystem"
rm -f "$out/objects/"*.o

# The C targets' module maps, as SwiftPM generates them for an include/ directory.
for module in CISAL CGeoData CLogSurgeSystem; do
    printf 'module %s {\n    umbrella header "%s"\n    export *\n}\n' \
        "$module" "$root/Sources/$module/include/$module.h" > "$out/modulemaps/$module/module.modulemap"
done

echo "fuzz: compiling the C targets" >&2
"$clang" -O2 -g -fPIC -fsanitize=address,fuzzer-no-link -I "$root/Sources/CISAL/include" \
    -c "$root/Sources/CISAL/isal.c" -o "$out/objects/CISAL.o"
"$clang" -O2 -g -fPIC -fsanitize=address -I "$root/Sources/CLogSurgeSystem/include" \
    -c "$root/Sources/CLogSurgeSystem/system.c" -o "$out/objects/CLogSurgeSystem.o"
# embed.c's .incbin finds country.mmdb through the include path, as in Package.swift.
"$clang" -O2 -g -fPIC -I "$root/Sources/CGeoData" -I "$root/Sources/CGeoData/include" \
    -c "$root/Sources/CGeoData/embed.c" -o "$out/objects/CGeoData.o"

swift_flags=(-O -g -swift-version 6 -parse-as-library -package-name logsurge
             -I "$out/modules" -I "$root/Sources/CZlib" -I "$out/modulemaps/CISAL" -I "$out/modulemaps/CGeoData"
             -I "$out/modulemaps/CLogSurgeSystem")

# The code under test gets libFuzzer's coverage; the checks only ASan, so that coverage (and
# the `cov:` figure) counts logsurge's own code.
module() {
    local name="$1" sanitize="$2"
    shift 2
    echo "fuzz: compiling $name" >&2
    "$swiftc" "${swift_flags[@]}" -sanitize="$sanitize" -module-name "$name" -wmo -emit-module \
        -emit-module-path "$out/modules/$name.swiftmodule" -c "$@" -o "$out/objects/$name.o"
}
module LogSurgeCore fuzzer,address "$root/Sources/LogSurgeCore/"*.swift
module LogSurgeParse fuzzer,address "$root/Sources/LogSurgeParse/"*.swift
module LogSurgeInput fuzzer,address "$root/Sources/LogSurgeInput/"*.swift
module LogSurgeGeo fuzzer,address "$root/Sources/LogSurgeGeo/"*.swift
module LogSurgeFuzzChecks address "$root/Fuzz/Checks/"*.swift

for target in "${targets[@]}"; do
    echo "fuzz: linking fuzz-$target" >&2
    "$swiftc" "${swift_flags[@]}" -sanitize=fuzzer,address "${linker[@]}" -D "FUZZ_${target^^}" -module-name "Fuzz_$target" \
        "$root/Fuzz/Entry/FuzzEntry.swift" "$out/objects/"*.o -lz -o "$out/fuzz-$target"
done
echo "fuzz: built ${targets[*]/#/$out/fuzz-}" >&2
