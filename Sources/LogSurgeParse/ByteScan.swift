/// The bytes the parser looks for.
enum ASCII {
    static let space: UInt8 = 0x20
    static let quote: UInt8 = 0x22
    static let plus: UInt8 = 0x2B
    static let comma: UInt8 = 0x2C
    static let dash: UInt8 = 0x2D
    static let slash: UInt8 = 0x2F
    static let zero: UInt8 = 0x30
    static let colon: UInt8 = 0x3A
    static let openBracket: UInt8 = 0x5B
    static let backslash: UInt8 = 0x5C
    static let closeBracket: UInt8 = 0x5D
    static let openBrace: UInt8 = 0x7B
    static let closeBrace: UInt8 = 0x7D
    static let tab: UInt8 = 0x09
    static let hash: UInt8 = 0x23
    static let carriageReturn: UInt8 = 0x0D
    static let newline: UInt8 = 0x0A
}

/// The UTF-8 byte order mark that Windows tools (Notepad, IIS logging UTF-8, PowerShell's
/// `Out-File`) write at the start of a file, and `cat` carries into the middle of one.
public enum ByteOrderMark {
    /// `line` without a byte order mark at its start: U+FEFF there is never part of a log line.
    @inline(__always)
    public static func dropped(from line: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        // In bounds: count >= 3 is checked first.
        guard line.count >= 3, line[0] == 0xEF, line[1] == 0xBB, line[2] == 0xBF else { return line }
        return UnsafeRawBufferPointer(rebasing: line[3...])
    }
}

/// Byte scans over a line. Scans never read outside `self[from..<to]` except for the final
/// overlapping 16-byte load, which stays inside `self[0..<to]`.
extension UnsafeRawBufferPointer {
    /// The index of the first `byte` in `self[from..<to]`, or `to` when there is none.
    ///
    /// Requires `0 <= from` and `to <= count`.
    @inline(__always)
    func firstIndex(of byte: UInt8, from: Int, to: Int) -> Int {
        let needle = SIMD16<UInt8>(repeating: byte)
        return firstIndex(from: from, to: to, block: { $0 .== needle }, byte: { $0 == byte })
    }

    /// The index of the first byte in `self[from..<to]` that is not printable ASCII (or is a
    /// `"` or a `,`), which ends a client or host token; `to` when there is none. Neither an
    /// address nor a host name holds a comma: `a,b` where one stands is a forwarded chain.
    ///
    /// Requires `0 <= from` and `to <= count`.
    @inline(__always)
    func endOfToken(from: Int, to: Int) -> Int {
        let lowest = SIMD16<UInt8>(repeating: ASCII.space + 1)
        let highest = SIMD16<UInt8>(repeating: 0x7E)
        let quote = SIMD16<UInt8>(repeating: ASCII.quote)
        let comma = SIMD16<UInt8>(repeating: ASCII.comma)
        return firstIndex(
            from: from, to: to,
            block: { ($0 .< lowest) .| ($0 .> highest) .| ($0 .== quote) .| ($0 .== comma) },
            byte: { $0 <= ASCII.space || $0 > 0x7E || $0 == ASCII.quote || $0 == ASCII.comma })
    }

    /// The index of the first byte in `self[from..<to]` that `block` (16 lanes at a time)
    /// or `byte` (one at a time, for spans in buffers shorter than 16 bytes) selects; `to` if none.
    ///
    /// Compares 16 bytes per step with SIMD loads, which for the short spans of a log line
    /// (10–200 bytes) beats calling `memchr`. The last partial block is handled by one more
    /// 16-byte load that ends at `to`, ignoring the lanes already examined.
    /// Requires `0 <= from` and `to <= count`; `block` and `byte` must agree.
    @inline(__always)
    private func firstIndex(
        from: Int, to: Int,
        block matches: (SIMD16<UInt8>) -> SIMDMask<SIMD16<Int8>>,
        byte matchesByte: (UInt8) -> Bool
    ) -> Int {
        guard from < to, let base = baseAddress else { return to }
        var i = from
        while to - i >= 16 {
            // In bounds: i >= 0 and i + 16 <= to <= count.
            let hits = Self.words(matches((base + i).loadUnaligned(as: SIMD16<UInt8>.self)))
            if hits.low | hits.high != 0 { return i + Self.firstLane(hits) }
            i += 16
        }
        guard i < to else { return to }
        if to >= 16 {
            let blockStart = to - 16
            // In bounds: 0 <= to - 16 and to <= count.
            let block = (base + blockStart).loadUnaligned(as: SIMD16<UInt8>.self)
            let fresh = Self.laneNumbers .>= SIMD16<UInt8>(repeating: UInt8(truncatingIfNeeded: i - blockStart))
            let hits = Self.words(matches(block) .& fresh)
            return hits.low | hits.high != 0 ? blockStart + Self.firstLane(hits) : to
        }
        while i < to {
            // In bounds: from <= i < to <= count.
            if matchesByte(base.load(fromByteOffset: i, as: UInt8.self)) { return i }
            i += 1
        }
        return to
    }

    /// The index of the last `byte` in `self[from..<to]`, or nil when there is none; 16 bytes a
    /// step from the end (a line's last field is found from its end without a byte loop).
    ///
    /// Requires `0 <= from` and `to <= count`.
    @inline(__always)
    func lastIndex(of byte: UInt8, from: Int, to: Int) -> Int? {
        guard from < to, let base = baseAddress else { return nil }
        let needle = SIMD16<UInt8>(repeating: byte)
        var end = to
        while end - from >= 16 {
            // In bounds: from <= end - 16 and end <= to <= count.
            let hits = Self.words((base + end - 16).loadUnaligned(as: SIMD16<UInt8>.self) .== needle)
            if hits.high != 0 { return end - 16 + 15 - (hits.high.leadingZeroBitCount >> 3) }
            if hits.low != 0 { return end - 16 + 7 - (hits.low.leadingZeroBitCount >> 3) }
            end -= 16
        }
        while end > from {
            end -= 1
            // In bounds: from <= end < to <= count.
            if base.load(fromByteOffset: end, as: UInt8.self) == byte { return end }
        }
        return nil
    }

    private static var laneNumbers: SIMD16<UInt8> {
        SIMD16(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
    }

    /// A 16-lane mask as two little-endian words, 0xFF per true lane.
    ///
    /// Cheaper than `any(_:)`, which the compiler does not always turn into one vector test.
    @inline(__always)
    private static func words(_ mask: SIMDMask<SIMD16<Int8>>) -> (low: UInt64, high: UInt64) {
        let bytes = SIMD16<UInt8>(repeating: 0).replacing(with: 0xFF, where: mask)
        // Both are 16-byte vectors of plain integers, so the bit cast is well defined.
        let lanes = unsafeBitCast(bytes, to: SIMD2<UInt64>.self)
        return (UInt64(littleEndian: lanes[0]), UInt64(littleEndian: lanes[1]))
    }

    /// The index of the first true lane of a mask (as `words(_:)`) that has at least one.
    @inline(__always)
    private static func firstLane(_ hits: (low: UInt64, high: UInt64)) -> Int {
        hits.low != 0 ? hits.low.trailingZeroBitCount >> 3 : 8 + (hits.high.trailingZeroBitCount >> 3)
    }

    /// The first `"` at or after `from` that is not escaped (an even number of backslashes
    /// before it, counted back to `from`) and that `accepts` (given its index); nil when none.
    ///
    /// The one scan behind every reading of a quoted field: Apache's and nginx's `\"`, JSON strings.
    @inline(__always)
    func unescapedQuote(from: Int, where accepts: (Int) -> Bool) -> Int? {
        var candidate = from
        while true {
            candidate = firstIndex(of: ASCII.quote, from: candidate, to: count)
            if candidate == count { return nil }
            var escapes = candidate
            // In bounds: escapes - 1 >= from >= 0 and escapes - 1 < candidate < count.
            while escapes > from, self[escapes - 1] == ASCII.backslash { escapes -= 1 }
            if (candidate - escapes) & 1 == 0, accepts(candidate) { return candidate }
            candidate += 1
        }
    }

    /// The index of the end of the closing quote of a quoted field whose text starts at `from`.
    ///
    /// The closing quote is the first `"` that is not escaped (preceded by an odd number of
    /// backslashes, as Apache writes `\"` and `\\`) and that is followed by a space or the end
    /// of the buffer; a `"` followed by anything else is taken as part of the text.
    /// Returns `nil` when there is none (an unterminated field).
    @inline(__always)
    func closingQuote(from: Int) -> Int? {
        closingQuote(from: from, followedBy: ASCII.space)
    }

    /// The closing quote of a field whose text starts at `from` and that `next` follows (or the end).
    @inline(__always)
    func closingQuote(from: Int, followedBy next: UInt8) -> Int? {
        // In bounds: `candidate + 1 < count` is checked before reading it.
        unescapedQuote(from: from) { candidate in candidate + 1 == count || self[candidate + 1] == next }
    }
}
