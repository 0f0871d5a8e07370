/// The fuzz targets: each one runs a component on arbitrary bytes and checks its invariants.
///
/// The same `check` runs inside the libFuzzer binaries (`Fuzz/build.sh`, where a broken
/// invariant aborts the run and libFuzzer keeps the input) and in `swift test`, which replays
/// every kept input in `Fuzz/Regressions/<target>/` and the seeds in `Fuzz/Seeds/<target>/`.
/// Memory errors are found by the address sanitizer in the fuzz build only; the checks
/// themselves are plain Swift and hold in both.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// `AccessLogParser` on lines of every format (`ParserFuzz`).
    case parser
    /// `InputReader` on a file or pipe: gzip framing, both inflaters, line chunking (`GzipFuzz`).
    case gzip
    /// `MMDBReader` on a whole database file: open, lookups, records, country tables (`MMDBFuzz`).
    case mmdb

    /// Runs the target on `data`; returns the invariants that did not hold (empty: all did).
    public func check(_ data: UnsafeRawBufferPointer) -> [String] {
        switch self {
        case .parser: return ParserFuzz.check(data)
        case .gzip: return GzipFuzz.check(data)
        case .mmdb: return MMDBFuzz.check(data)
        }
    }
}

/// Calls `body` with two exactly sized copies of a line: the line, and the line with `"\r"`
/// after it. Exactly sized, so that the address sanitizer sees any read past their ends.
func withExactCopies<Result>(
    of source: UnsafeRawBufferPointer, _ body: (_ line: UnsafeRawBufferPointer, _ withCR: UnsafeRawBufferPointer) -> Result
) -> Result {
    let count = source.count
    let line = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 1)
    let withCR = UnsafeMutableRawBufferPointer.allocate(byteCount: count + 1, alignment: 1)
    defer {
        line.deallocate()
        withCR.deallocate()
    }
    if count > 0 {
        line.copyMemory(from: source)
        withCR.copyMemory(from: source)
    }
    withCR[count] = 0x0D
    return body(UnsafeRawBufferPointer(line), UnsafeRawBufferPointer(withCR))
}

/// Bytes shown in a failure message: printable ASCII as is, the rest as `\xNN`, at most 200.
func escaped<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String {
    var text = ""
    for byte in bytes.prefix(200) {
        if byte >= 0x20 && byte < 0x7F && byte != 0x5C {
            text.unicodeScalars.append(Unicode.Scalar(byte))
        } else {
            let digits = Array("0123456789abcdef")
            text += "\\x" + String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 0xF)])
        }
    }
    return bytes.count > 200 ? text + "…" : text
}
