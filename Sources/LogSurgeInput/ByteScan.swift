import Glibc

/// Byte searches used by the chunker; both work on raw memory without per-byte Swift loops.
enum ByteScan {
    static let newline: UInt8 = 0x0A

    /// Offset of the first `"\n"` in `range` of `base`, or nil.
    ///
    /// Uses libc `memchr` (vectorised in glibc).
    @inline(__always)
    static func firstNewline(_ base: UnsafeRawPointer, in range: Range<Int>) -> Int? {
        guard !range.isEmpty else { return nil }
        // In bounds: the caller guarantees `range` lies inside the buffer at `base`.
        guard let hit = memchr(base + range.lowerBound, Int32(newline), range.count) else { return nil }
        return UnsafeRawPointer(hit) - base
    }

    /// Offset of the last `"\n"` in `range` of `base`, or nil.
    ///
    /// Scans backwards eight bytes at a time with an exact SWAR zero-byte test (glibc's
    /// `memrchr` is not visible to Swift): the last newline of a buffer is normally within one
    /// line of its end, so this costs a few word loads per call.
    @inline(__always)
    static func lastNewline(_ base: UnsafeRawPointer, in range: Range<Int>) -> Int? {
        let low = range.lowerBound
        var end = range.upperBound
        let ones: UInt64 = 0x0101_0101_0101_0101
        let low7: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
        let pattern = ones &* UInt64(newline)
        while end - low >= 8 {
            // In bounds: low <= end - 8 and end <= range.upperBound, both inside the buffer.
            let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: end - 8, as: UInt64.self))
            let x = word ^ pattern
            // Exact: the high bit of a byte is set iff that byte of x is zero (no borrow carries).
            let zeroBytes = ~(((x & low7) &+ low7) | x | low7)
            if zeroBytes != 0 {
                let highestByte = (63 - zeroBytes.leadingZeroBitCount) >> 3
                return end - 8 + highestByte
            }
            end -= 8
        }
        while end > low {
            end -= 1
            // In bounds: low <= end < range.upperBound.
            if base.load(fromByteOffset: end, as: UInt8.self) == newline { return end }
        }
        return nil
    }
}
