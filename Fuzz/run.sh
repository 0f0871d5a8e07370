#!/usr/bin/env bash
# Runs one libFuzzer target (see Fuzz/README.md):
#
#   Fuzz/run.sh parser|gzip|mmdb [SECONDS] [libFuzzer options...]
#
# Builds the targets when a source changed (Fuzz/build.sh), gathers the seeds into
# .build-fuzz/seeds/TARGET (Fuzz/Seeds/TARGET, Fuzz/Regressions/TARGET, repository fixtures
# and, for mmdb, ../shared/mmdb-conformance when present), then fuzzes for SECONDS (default
# 600) on one core, keeping new inputs in .build-fuzz/corpus/TARGET across runs. A crash,
# timeout or broken invariant leaves its input in .build-fuzz/artifacts/TARGET/.
# SECONDS = 0 only replays the seeds and regressions once (what CI does).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
out="${FUZZ_BUILD_DIR:-$root/.build-fuzz}"
target="${1:-}"
case "$target" in
    parser | gzip | mmdb) ;;
    *) echo "usage: Fuzz/run.sh parser|gzip|mmdb [SECONDS] [libFuzzer options...]" >&2; exit 2 ;;
esac
seconds="${2:-600}"
shift $(($# >= 2 ? 2 : 1))

"$root/Fuzz/build.sh"

seeds="$out/seeds/$target"
corpus="$out/corpus/$target"
artifacts="$out/artifacts/$target"
rm -rf "$seeds"
mkdir -p "$seeds" "$corpus" "$artifacts"
cp "$root/Fuzz/Seeds/$target/"* "$seeds/"
if [ -d "$root/Fuzz/Regressions/$target" ]; then
    find "$root/Fuzz/Regressions/$target" -type f ! -name '*.md' -exec cp {} "$seeds/" \;
fi
case "$target" in
    parser)
        cp "$root/Tests/LogSurgeTests/Fixtures/"*.log "$seeds/"
        # The vendors' own lines of every format (Tests/LogSurgeTests/Fixtures/formats).
        for sample in "$root/Tests/LogSurgeTests/Fixtures/formats/"*/access.log; do
            cp "$sample" "$seeds/vendor-$(basename "$(dirname "$sample")").log"
        done
        head -n 40 "$root/SampleLogs/access.log" > "$seeds/sample-head.log"
        ;;
    mmdb)
        shared="$(cd "$root/.." && pwd)/shared/mmdb-conformance"
        if [ -d "$shared" ]; then
            find "$shared" -type f -name '*.mmdb' -size -200k | while read -r file; do
                cp "$file" "$seeds/$(basename "$(dirname "$file")")-$(basename "$file")"
            done
        else
            echo "fuzz: $shared is absent; seeding mmdb with Fuzz/Seeds/mmdb only" >&2
        fi
        ;;
esac

toolchain="$(dirname "$(readlink -f "$(command -v "${SWIFTC:-swiftc}")")")"
if [ -x "$toolchain/llvm-symbolizer" ]; then export ASAN_SYMBOLIZER_PATH="$toolchain/llvm-symbolizer"; fi

# On a crash the Swift runtime's backtracer reads the stack in a way ASan reports as a second error.
export SWIFT_BACKTRACE=enable=no
options=(-timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 -dict="$root/Fuzz/Dictionaries/$target.dict"
         -artifact_prefix="$artifacts/" -print_final_stats=1)
if [ "$seconds" = 0 ]; then
    exec "$out/fuzz-$target" "${options[@]}" -runs=0 "$@" "$seeds"
fi
exec "$out/fuzz-$target" "${options[@]}" -max_total_time="$seconds" "$@" "$corpus" "$seeds"
