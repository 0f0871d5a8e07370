/// An IPv4 or IPv6 address as 128 bits; IPv4 is stored IPv4-mapped (::ffff:a.b.c.d).
///
/// `high` holds the first 64 bits in network order, `low` the last 64. Parsing accepts the
/// textual forms found in access logs and nothing else; `description` writes the canonical
/// form, which parses back to the same value.
public struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    /// The first 64 bits of the address (network order: the first group is the top 16 bits).
    public var high: UInt64
    /// The last 64 bits of the address.
    public var low: UInt64

    /// An address from its two 64-bit halves.
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// The IPv4 address `ipv4` (a.b.c.d is `a << 24 | b << 16 | c << 8 | d`), stored as ::ffff:a.b.c.d.
    public init(ipv4: UInt32) {
        self.high = 0
        self.low = 0xFFFF_0000_0000 | UInt64(ipv4)
    }

    /// True for the IPv4-mapped range ::ffff:0:0/96, which is how IPv4 addresses are stored.
    @inlinable
    public var isIPv4: Bool { high == 0 && low >> 32 == 0xFFFF }

    /// The IPv4 value when `isIPv4`, else nil.
    @inlinable
    public var ipv4: UInt32? { isIPv4 ? UInt32(truncatingIfNeeded: low) : nil }

    /// Parses dotted IPv4, IPv6 (with ::, embedded dotted IPv4, upper/lower hex), no allocation.
    ///
    /// Accepted: `a.b.c.d` with decimal octets 0–255 written without leading zeros (`010` is
    /// rejected as ambiguous, since `inet_aton` reads it as octal); IPv6 with 1–4 hex digits a
    /// group, at most one `::`, and an optional dotted IPv4 tail (`::ffff:1.2.3.4`, `64:ff9b::1.2.3.4`).
    /// Rejected: anything else — empty input, hostnames, zone suffixes (`%eth0`), brackets,
    /// ports, prefixes (`/24`), whitespace, more than four hex digits in a group, too many or too
    /// few groups. An IPv4-mapped IPv6 text parses to the same value as the dotted IPv4 text.
    public init?(parsing bytes: UnsafeRawBufferPointer) {
        let count = bytes.count
        guard count > 0, count <= 45 else { return nil }
        // Dotted IPv4 first (the common case); IPv6 text always holds a colon. From 8 bytes on,
        // read a word at a time from the end (`trailingIPv4`: the octets' lengths from where the
        // dots are, no branch on them; the byte-at-a-time parse mispredicted one or two an
        // address): the text is an address when the run it reads is all of it.
        if count >= 8 {
            if count <= 15, let (value, start) = IPAddress.trailingIPv4(bytes, end: count), start == 0 {
                self.init(ipv4: value)
                return
            }
        } else if let value = IPAddress.parseIPv4(bytes, from: 0) {
            self.init(ipv4: value)
            return
        }
        guard let (high, low) = IPAddress.parseIPv6(bytes) else { return nil }
        self.init(high: high, low: low)
    }

    /// Parses an address from text; see `init?(parsing:)` for the accepted forms.
    public init?(_ string: String) {
        var text = string
        let parsed = text.withUTF8 { utf8 in IPAddress(parsing: UnsafeRawBufferPointer(utf8)) }
        guard let parsed else { return nil }
        self = parsed
    }

    /// The canonical text: dotted quad for IPv4 (including the mapped form), RFC 5952 for IPv6
    /// (lower-case hex, no leading zeros, the longest run of two or more zero groups as `::`).
    public var description: String {
        if let v4 = ipv4 {
            return "\(v4 >> 24).\((v4 >> 16) & 0xFF).\((v4 >> 8) & 0xFF).\(v4 & 0xFF)"
        }
        var groups = [UInt16](repeating: 0, count: 8)
        for index in 0..<4 {
            groups[index] = UInt16(truncatingIfNeeded: high >> (48 - 16 * UInt64(index)))
            groups[index + 4] = UInt16(truncatingIfNeeded: low >> (48 - 16 * UInt64(index)))
        }
        // The longest run of zero groups (the first one on ties), if at least two long.
        var bestStart = -1
        var bestLength = 1
        var index = 0
        while index < 8 {
            guard groups[index] == 0 else {
                index += 1
                continue
            }
            var end = index
            while end < 8 && groups[end] == 0 { end += 1 }
            if end - index > bestLength {
                bestStart = index
                bestLength = end - index
            }
            index = end
        }
        var text = ""
        index = 0
        while index < 8 {
            if index == bestStart {
                text += "::"
                index += bestLength
                continue
            }
            if !text.isEmpty && !text.hasSuffix(":") { text += ":" }
            text += String(groups[index], radix: 16)
            index += 1
        }
        return text
    }

    // MARK: - Parsing

    /// Parses `a.b.c.d` from `start` to the end of `bytes`.
    static func parseIPv4(_ bytes: UnsafeRawBufferPointer, from start: Int) -> UInt32? {
        let end = bytes.count
        // A dotted quad is 7 to 15 bytes; checked first, it also bounds every read below.
        guard end - start >= 7, end - start <= 15, let base = bytes.baseAddress else { return nil }
        /// The digit at `index`, or nil for any other byte or past the end.
        @inline(__always) func digit(_ index: Int) -> UInt32? {
            guard index < end else { return nil }
            // In bounds: start <= index < end == bytes.count.
            let value = base.load(fromByteOffset: index, as: UInt8.self) &- UInt8(ascii: "0")
            return value < 10 ? UInt32(value) : nil
        }
        var index = start
        var value: UInt32 = 0
        for part in 0..<4 {
            // One to three digits, no leading zero, at most 255.
            guard var octet = digit(index) else { return nil }
            index += 1
            if let second = digit(index) {
                guard octet != 0 else { return nil }
                octet = octet * 10 + second
                index += 1
                if let third = digit(index) {
                    octet = octet * 10 + third
                    index += 1
                    guard octet <= 255, digit(index) == nil else { return nil }
                }
            }
            value = value << 8 | octet
            if part < 3 {
                // In bounds: index < end is checked first.
                guard index < end, base.load(fromByteOffset: index, as: UInt8.self) == UInt8(ascii: ".") else { return nil }
                index += 1
            }
        }
        return index == end ? value : nil
    }

    /// The dotted quad that ends at `end` in `bytes`: when the run of digits and dots before
    /// `end` (as long as it goes, back to the start of `bytes` at most) is IPv4 text that
    /// `parseIPv4` accepts, its value and where the run starts; nil otherwise, and for any
    /// `end` below 8 (the caller parses those bytes as it would any other entry).
    ///
    /// For an address chain read from its end (`ForwardedChain`), where the byte-at-a-time
    /// scan back for the entry's start and then the parse paid a mispredicted branch or two per
    /// octet: the 16 bytes before `end` are classified eight at a time, the octets' lengths
    /// come from where the dots are, and no branch depends on them.
    static func trailingIPv4(_ bytes: UnsafeRawBufferPointer, end: Int) -> (value: UInt32, start: Int)? {
        // (Seven bytes, the shortest address, are left to the byte-at-a-time parse.)
        guard end >= 8, end <= bytes.count, let base = bytes.baseAddress else { return nil }
        // The 16 bytes before `end`, nearest first: byte j of `words.0` is the one at
        // end - 1 - j, byte j of `words.1` the one at end - 9 - j; before the start of
        // `bytes`, zeros (neither digit nor dot). `words.2` pads the reads below.
        var words: (UInt64, UInt64, UInt64) = (0, 0, 0)
        // In bounds: end - 8 >= 0 and end <= bytes.count.
        words.0 = UInt64(littleEndian: (base + end - 8).loadUnaligned(as: UInt64.self)).byteSwapped
        if end >= 16 {
            // In bounds: end - 16 >= 0.
            words.1 = UInt64(littleEndian: (base + end - 16).loadUnaligned(as: UInt64.self)).byteSwapped
        } else {
            // In bounds: 8 bytes from the start, end >= 8. Of them the first end - 8 come before
            // `words.0`'s; the shift drops the others (a shift by 64 leaves none).
            words.1 = UInt64(littleEndian: base.loadUnaligned(as: UInt64.self)).byteSwapped >> (8 * UInt64(16 - end))
        }
        let digits = Self.laneMask(Self.digitLanes(words.0)) | Self.laneMask(Self.digitLanes(words.1)) << 8
        let dots = Self.laneMask(Self.dotLanes(words.0)) | Self.laneMask(Self.dotLanes(words.1)) << 8
        // The run's length: 16 (too long) when all 16 bytes are digits or dots.
        let length = (~(digits | dots)).trailingZeroBitCount
        guard length >= 7, length <= 15 else { return nil }
        let runDots = dots & ((1 << length) - 1)
        guard runDots.nonzeroBitCount == 3 else { return nil }
        // The octets' lengths, nearest first, each between two dots (or a dot and an end).
        let first = runDots.trailingZeroBitCount
        let second = (runDots >> (first + 1)).trailingZeroBitCount
        let third = (runDots >> (first + second + 2)).trailingZeroBitCount
        let fourth = length - first - second - third - 3
        // The digit values, nearest first (digit ^ "0" is its value, lane by lane).
        var values = (words.0 ^ 0x3030_3030_3030_3030, words.1 ^ 0x3030_3030_3030_3030, UInt64(0))
        return withUnsafeBytes(of: &values) { digit -> (value: UInt32, start: Int)? in
            /// The octet of `count` digits whose last digit is at distance `at` from `end`,
            /// or a value above 255 for a count out of 1...3 or a leading zero. Arithmetic
            /// rather than branches: the counts are as unpredictable as the addresses.
            @inline(__always) func octet(at: Int, count: Int) -> UInt32 {
                let shift = UInt32(truncatingIfNeeded: count & 3) * 8
                // In bounds: at + 2 <= length + 1 <= 16 < 24 bytes, and the first digit's index
                // at + count - 1 (at least 0 when count is) is at most length - 1.
                let ones = UInt32(digit[at]), tens = UInt32(digit[at + 1]), hundreds = UInt32(digit[at + 2])
                let first = UInt32(digit[Swift.max(at + count - 1, 0)])
                // Weights by count, a byte each: tens count from two digits, hundreds from three.
                let value = ones + tens * ((0x0A0A_0000 >> shift) & 0xFF) + hundreds * ((0x6400_0000 >> shift) & 0xFF)
                let badCount = UInt32(truncatingIfNeeded: UInt(bitPattern: count &- 1) >= 3 ? 1 : 0)
                let leadingZero = UInt32(count > 1 ? 1 : 0) & UInt32(first == 0 ? 1 : 0)
                return value | (badCount | leadingZero) << 8
            }
            let octets = (
                octet(at: 0, count: first), octet(at: first + 1, count: second),
                octet(at: first + second + 2, count: third), octet(at: length - fourth, count: fourth)
            )
            guard octets.0 | octets.1 | octets.2 | octets.3 <= 255 else { return nil }
            return (octets.3 << 24 | octets.2 << 16 | octets.1 << 8 | octets.0, end - length)
        }
    }

    /// 0x80 in each byte of `word` that is an ASCII digit.
    @inline(__always)
    private static func digitLanes(_ word: UInt64) -> UInt64 {
        // Seven-bit lanes plus 0x50 (0x80 - "0") or 0x46 (0x80 - "9" - 1) carry no lane over.
        let low = word & 0x7F7F_7F7F_7F7F_7F7F
        let atLeastZero = low &+ 0x5050_5050_5050_5050
        let aboveNine = low &+ 0x4646_4646_4646_4646
        return atLeastZero & ~aboveNine & ~word & 0x8080_8080_8080_8080
    }

    /// 0x80 in each byte of `word` that is ".".
    @inline(__always)
    private static func dotLanes(_ word: UInt64) -> UInt64 {
        let other = word ^ 0x2E2E_2E2E_2E2E_2E2E
        // A lane is zero exactly when neither its high bit nor (low seven bits + 0x7F) has 0x80.
        return ~((other & 0x7F7F_7F7F_7F7F_7F7F) &+ 0x7F7F_7F7F_7F7F_7F7F | other) & 0x8080_8080_8080_8080
    }

    /// The high bits of `lanes`' eight bytes gathered into eight bits, byte j to bit j.
    @inline(__always)
    private static func laneMask(_ lanes: UInt64) -> Int {
        // Each byte is 0 or 1 after the shift; the multiplier places byte j at bit 56 + j, and
        // no partial products of lower bytes meet (their positions are distinct, no carries).
        Int(truncatingIfNeeded: ((lanes >> 7) &* 0x0102_0408_1020_4080) >> 56)
    }

    /// Parses IPv6 text.
    static func parseIPv6(_ bytes: UnsafeRawBufferPointer) -> (UInt64, UInt64)? {
        let end = bytes.count
        // Groups before "::" (all of them when there is none) and after it, as 128-bit values
        // in two halves; shifting in 16 bits at a time.
        var head = (high: UInt64(0), low: UInt64(0))
        var tail = (high: UInt64(0), low: UInt64(0))
        var headGroups = 0
        var tailGroups = 0
        var sawDoubleColon = false
        var index = 0
        // Every subscript below is guarded by `index < end` (or `end >= 2`).
        guard end >= 2 else { return nil }
        if bytes[0] == UInt8(ascii: ":") {
            guard bytes[1] == UInt8(ascii: ":") else { return nil }
            sawDoubleColon = true
            index = 2
            if index == end { return (0, 0) }
        }
        while true {
            // One group: 1–4 hex digits, or a dotted IPv4 tail.
            let groupStart = index
            var group: UInt64 = 0
            var digits = 0
            while index < end {
                let byte = bytes[index]
                let decimal = byte &- UInt8(ascii: "0")
                let letter = (byte | 0x20) &- UInt8(ascii: "a")  // 'A'...'F' and 'a'...'f' → 0...5
                let nibble: UInt8
                if decimal < 10 {
                    nibble = decimal
                } else if letter < 6 {
                    nibble = letter &+ 10
                } else {
                    break
                }
                group = group << 4 | UInt64(nibble)
                digits += 1
                guard digits <= 4 else { return nil }
                index += 1
            }
            var width: UInt64 = 16
            if index < end && bytes[index] == UInt8(ascii: ".") {
                // The dotted IPv4 tail is the last thing and takes two groups.
                guard let v4 = parseIPv4(bytes, from: groupStart) else { return nil }
                group = UInt64(v4)
                width = 32
                index = end
            } else {
                guard digits > 0 else { return nil }
            }
            let added = Int(width / 16)
            if sawDoubleColon {
                tail = (tail.high << width | tail.low >> (64 - width), tail.low << width | group)
                tailGroups += added
            } else {
                head = (head.high << width | head.low >> (64 - width), head.low << width | group)
                headGroups += added
            }
            guard headGroups + tailGroups <= 8 else { return nil }
            if index == end { break }
            guard bytes[index] == UInt8(ascii: ":") else { return nil }
            index += 1
            guard index < end else { return nil }  // a single trailing colon
            if bytes[index] == UInt8(ascii: ":") {
                guard !sawDoubleColon else { return nil }
                sawDoubleColon = true
                index += 1
                if index == end { break }
            }
        }
        let groups = headGroups + tailGroups
        if !sawDoubleColon {
            return groups == 8 ? (head.high, head.low) : nil
        }
        guard groups <= 7 else { return nil }
        // Move the head groups to the top: shift left by 16 * (8 - headGroups) bits (16...128).
        let shift = UInt64(16 * (8 - headGroups))
        let shifted: (high: UInt64, low: UInt64)
        if shift >= 128 {
            shifted = (0, 0)
        } else if shift >= 64 {
            shifted = (head.low << (shift - 64), 0)
        } else {
            shifted = (head.high << shift | head.low >> (64 - shift), head.low << shift)
        }
        return (shifted.high | tail.high, shifted.low | tail.low)
    }
}
