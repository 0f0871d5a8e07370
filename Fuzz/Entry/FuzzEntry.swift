// The libFuzzer entry point of every fuzz target; `Fuzz/build.sh` compiles it once per target
// with `-D FUZZ_PARSER`, `-D FUZZ_GZIP` or `-D FUZZ_MMDB`. Not part of the package: it links
// only with `-sanitize=fuzzer`, which brings libFuzzer's `main`.
import LogSurgeFuzzChecks

#if FUZZ_PARSER
let target = FuzzTarget.parser
#elseif FUZZ_GZIP
let target = FuzzTarget.gzip
#elseif FUZZ_MMDB
let target = FuzzTarget.mmdb
#else
#error("build with -D FUZZ_PARSER, -D FUZZ_GZIP or -D FUZZ_MMDB")
#endif

/// Runs the target's checks on one input; a broken invariant aborts, and libFuzzer keeps the input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let problems = target.check(UnsafeRawBufferPointer(start: data, count: count))
    if !problems.isEmpty {
        fatalError("\(target.rawValue): \(problems.count) invariant(s) broken:\n" + problems.prefix(20).joined(separator: "\n"))
    }
    return 0
}
