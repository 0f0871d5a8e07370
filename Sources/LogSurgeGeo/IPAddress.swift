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
        // Dotted IPv4 first (the common case, one pass); IPv6 text always holds a colon.
        if let value = IPAddress.parseIPv4(bytes, from: 0) {
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
