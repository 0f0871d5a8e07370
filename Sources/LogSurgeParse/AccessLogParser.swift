import LogSurgeCore
/// Parses access-log lines of one format into a minute, status, size and field ranges.
///
/// Fields are separated by single spaces, as Apache and nginx write them: a client token,
/// an ident token, a user token (or a quoted user, which may hold spaces),
/// `[dd/Mon/yyyy:HH:MM:SS ±hhmm]`, the quoted request, a three-digit status and a size of
/// digits or `-`, then for combined formats the quoted referer and user agent. Quoted fields
/// may contain `\"` and `\\` escapes and any other bytes. Spaces at the end of a line are
/// accepted. Hostile input never reads out of bounds: it yields a `MalformedReason`.
///
/// The parser keeps a cache of the last timestamp's minute, so it is a value to keep per
/// worker and reuse for all the lines that worker parses.
public struct AccessLogParser: Sendable {
    /// Lines longer than this many bytes (without the line terminator) are `.tooLong`.
    ///
    /// Apache and nginx cap a request line and each header at 8 KiB by default, but escape
    /// each unprintable byte as `\xHH` (four bytes for one), and Caddy logs every request
    /// header: a real line can pass 64 KiB. 1 MiB, the reader's own limit, so that no line the
    /// reader hands over whole is refused here.
    public static let maxLineLength = Limits.longestLine

    /// The format this parser reads (for a compiled format string of the same family, the
    /// built-in format it extends).
    public let format: LogFormat

    private let hasHost: Bool
    /// nginx writes ` - ` where Apache has `%l`: then the ident must be `-`.
    private let identIsDash: Bool
    /// Quoted fields that must follow the size (2 for combined: referer and user agent).
    private let quotedFields: Int
    /// What each of them is kept as, 4 bits a field (`TailSlot`); 0 for none.
    private let quotedSlots: UInt64
    /// Whether the last of two or more quoted fields is kept: then it is found from the line's end.
    private let keepsLastField: Bool
    private var timestamps = TimestampCache()
    /// Whether `ParsedLine.path` is wanted; when not, the request is only delimited. By default, true.
    public var wantsPath = true

    /// Creates a parser for lines of `format`.
    public init(format: LogFormat) {
        self.format = format
        self.hasHost = format.hasHost
        self.identIsDash = false
        self.quotedFields = format.requiresAgent ? 2 : 0
        self.quotedSlots = 0
        self.keepsLastField = false
    }

    /// What a quoted field after the size is kept as, in a compiled format string of this family.
    enum TailSlot: UInt64 {
        case skipped = 0, forwarded = 1, country = 2
    }

    /// A parser for a compiled format string of this family: `[host ]client ident user [time]
    /// "request" status size` followed by quoted fields (nginx's `main` is combined with
    /// `"$http_x_forwarded_for"` after), some of them kept.
    init(hasHost: Bool, identIsDash: Bool, quoted slots: [TailSlot]) {
        self.format = hasHost ? (slots.count >= 2 ? .vhostCombined : .vhostCommon) : (slots.count >= 2 ? .combined : .common)
        self.hasHost = hasHost
        self.identIsDash = identIsDash
        self.quotedFields = slots.count
        self.quotedSlots = slots.enumerated().reduce(0) { $0 | $1.element.rawValue << (4 * UInt64($1.offset)) }
        self.keepsLastField = slots.count >= 2 && slots.last != .skipped
    }

    /// The most quoted fields after the size that a compiled format string may bring here.
    static let maximumQuotedFields = 16

    /// Parses one line.
    ///
    /// `line` excludes the `"\n"`; a trailing `"\r"` is ignored. The ranges in the result are
    /// offsets into `line`. Allocates nothing.
    ///
    /// Performance: about 11 M combined lines/s (2.5 GB/s) on one core for realistic 226-byte
    /// lines held in memory, timestamps advancing a second every four lines (measured
    /// 2026-11-28, release build, x86-64 Linux with SSE2 16-byte scans, machine under load).
    public mutating func parse(_ line: UnsafeRawBufferPointer) -> ParseResult {
        var count = line.count
        // In bounds: count - 1 is read only when count > 0.
        if count > 0, line[count - 1] == ASCII.carriageReturn { count -= 1 }
        guard count > 0, let base = line.baseAddress else { return .malformed(.empty) }
        guard count <= Self.maxLineLength else { return .malformed(.tooLong) }
        // The same memory without the carriage return; every index below is checked against its count.
        return parseFields(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// Parses the fields of a line `b` that has no line terminator and is not empty.
    ///
    /// Each `b[i]` below is preceded by a check that `i < end` (or a guarantee from a scan
    /// that returns indices below `end`); the comments name the check.
    @inline(__always)
    private mutating func parseFields(_ b: UnsafeRawBufferPointer) -> ParseResult {
        let end = b.count
        var line = ParsedLine(minute: 0, status: 0, bytes: 0, client: nil)
        var i = parsePrefix(b, hasHost: hasHost, into: &line)
        guard i >= 0 else { return .malformed(Self.reason(ofFailure: i)) }

        // nginx writes a literal `-` where Apache has `%l`.
        // In bounds: the client is followed by a space, the ident and a space, all inside b.
        if identIsDash, let client = line.client, b[client.upperBound + 1] != ASCII.dash || b[client.upperBound + 2] != ASCII.space {
            return .malformed(.badFormat)
        }

        // Quoted fields: for combined the referer and user agent, skipped. A line cut inside one
        // of them (no closing quote before its end) still counts: everything needed came before.
        // The built-in layouts keep none of their quoted fields: skip them without looking at slots.
        if quotedSlots == 0 {
            for field in 0..<quotedFields {
                // In bounds: i + 1 < end is checked before reading i and i + 1.
                guard i + 1 < end, b[i] == ASCII.space, b[i + 1] == ASCII.quote else { return .malformed(.badFormat) }
                // The last field only has to be closed: when the line ends in an unescaped quote
                // past the opening one, that quote closes it (or one before it does), so the
                // long user agent of combined need not be scanned.
                if field == quotedFields - 1 && end - 1 > i + 1 && Self.endsInUnescapedQuote(b) { break }
                guard let fieldEnd = b.closingQuote(from: i + 2) else {
                    line.truncated = true
                    break
                }
                i = fieldEnd + 1
            }
            // Whatever follows (end of line, spaces, extra fields) is ignored.
            return .parsed(line)
        }

        // A kept last field (nginx main's "$http_x_forwarded_for") holds no quote: it is found
        // from the end of the line, and the field before it runs up to it, so that the long user
        // agent before it need not be scanned either.
        var beforeLastEnd = -1
        if keepsLastField, let opening = Self.lastQuotedField(b) {
            beforeLastEnd = opening - 2
        }
        var field = 0
        while field < quotedFields {
            // In bounds: i + 1 < end is checked before reading i and i + 1.
            guard i + 1 < end, b[i] == ASCII.space, b[i + 1] == ASCII.quote else { return .malformed(.badFormat) }
            let slot = (quotedSlots >> (4 * UInt64(field))) & 0xF
            if field == quotedFields - 2, beforeLastEnd >= i + 2 {
                if slot != 0 { Self.keep(b, (i + 2)..<beforeLastEnd, as: slot, in: &line) }
                let lastSlot = (quotedSlots >> (4 * UInt64(field + 1))) & 0xF
                Self.keep(b, (beforeLastEnd + 3)..<(end - 1), as: lastSlot, in: &line)
                break
            }
            // The last field only has to be closed: when the line ends in an unescaped quote
            // past the opening one, that quote closes it (or one before it does), so the long
            // user agent of combined need not be scanned.
            var fieldEnd: Int
            if field == quotedFields - 1 && end - 1 > i + 1 && Self.endsInUnescapedQuote(b) {
                fieldEnd = end - 1
            } else if let closing = b.closingQuote(from: i + 2) {
                fieldEnd = closing
            } else {
                line.truncated = true
                break
            }
            if slot != 0 { Self.keep(b, (i + 2)..<fieldEnd, as: slot, in: &line) }
            i = fieldEnd + 1
            field += 1
        }
        // Whatever follows (end of line, spaces, extra fields) is ignored.
        return .parsed(line)
    }

    /// The index of the opening quote of a line's last quoted field when the line ends in an
    /// unescaped `"`, the field holds no other quote, and `" "` stands before it; else nil.
    @inline(__always)
    private static func lastQuotedField(_ b: UnsafeRawBufferPointer) -> Int? {
        guard endsInUnescapedQuote(b), let opening = b.lastIndex(of: ASCII.quote, from: 0, to: b.count - 1) else { return nil }
        // In bounds: opening - 2 >= 0 is checked first.
        guard opening >= 2, b[opening - 1] == ASCII.space, b[opening - 2] == ASCII.quote else { return nil }
        return opening
    }

    /// Keeps a quoted field of a compiled format string: a forwarded chain or a country, unless `-`.
    private static func keep(_ b: UnsafeRawBufferPointer, _ range: Range<Int>, as slot: UInt64, in line: inout ParsedLine) {
        // In bounds: the range lies inside b.
        if range.isEmpty || (range.count == 1 && b[range.lowerBound] == ASCII.dash) { return }
        switch TailSlot(rawValue: slot) {
        case .forwarded: line.forwarded = range
        case .country: line.countryHint = range
        case .skipped, nil: break
        }
    }

    /// Reads `[host ]client ident user [dd/Mon/yyyy:HH:MM:SS ±hhmm] "request" status size`,
    /// the part every common-log layout shares, from a line `b` that has no terminator and is
    /// not empty. Compiled format strings of that shape read it here too (`TemplateParser`).
    ///
    /// Each `b[i]` below is preceded by a check that `i < end` (or a guarantee from a scan
    /// that returns indices below `end`); the comments name the check.
    ///
    /// Returns the index just after the size (a space or the end of the line), with the fields
    /// in `line`; or, when the line is malformed, `-1 - reason.index`. (A plain integer rather
    /// than an enum with a payload: the fields are written once, in place.)
    @_transparent
    /// The first space at or after `from` that is followed by `[`, a timestamp, `] "`; nil
    /// when there is none. The slow path of a user field that holds spaces.
    @inline(never)
    private mutating func userEndBeforeTime(_ b: UnsafeRawBufferPointer, from: Int) -> Int? {
        var space = from
        let end = b.count
        // In bounds: the quote after the time, the last byte read, is checked to be before end.
        while space + 2 + TimestampCache.length + 2 < end {
            let stamp = space + 2
            if b[space] == ASCII.space, b[space + 1] == ASCII.openBracket, b[stamp + TimestampCache.length] == ASCII.closeBracket,
                b[stamp + TimestampCache.length + 1] == ASCII.space, b[stamp + TimestampCache.length + 2] == ASCII.quote,
                timestamps.minute(b, at: stamp) != nil
            {
                return space
            }
            space = b.firstIndex(of: ASCII.space, from: space + 1, to: end)
        }
        return nil
    }

    mutating func parsePrefix(_ b: UnsafeRawBufferPointer, hasHost: Bool, into line: inout ParsedLine) -> Int {
        let end = b.count
        var i = 0
        // A JSON object is never a client or a host: say the line is not in this format.
        // In bounds: b is not empty.
        if b[0] == ASCII.openBrace { return Self.failure(.badFormat) }

        var host: Range<Int>? = nil
        if hasHost {
            i = b.endOfToken(from: 0, to: end)
            // In bounds: i < end is checked first.
            guard i == end || b[i] == ASCII.space else { return Self.failure(.badFormat) }
            if i == 0 { return Self.onlySpaces(b) ? Self.failure(.empty) : Self.failure(.badFormat) }
            guard i < end, let vhost = Self.hostRange(b, 0..<i) else { return Self.failure(.badFormat) }
            host = vhost
            i += 1
        }

        // Client: printable ASCII up to the next space.
        let clientStart = i
        i = b.endOfToken(from: i, to: end)
        // In bounds: i < end is checked first.
        guard i == end || b[i] == ASCII.space else { return Self.failure(.badClient) }
        if i == clientStart {
            return !hasHost && Self.onlySpaces(b) ? Self.failure(.empty) : Self.failure(.badClient)
        }
        guard i < end else { return Self.failure(.badFormat) }
        let client = clientStart..<i
        i += 1

        // Ident: a non-empty token.
        let identStart = i
        // In bounds: i + 1 < end is checked before reading i and i + 1.
        i = i + 1 < end && b[i + 1] == ASCII.space ? i + 1 : b.firstIndex(of: ASCII.space, from: i, to: end)
        // In bounds: i < end is checked first.
        guard i > identStart, i < end, b[identStart] != ASCII.space else { return Self.failure(.badFormat) }
        let identIsDash = i == identStart + 1 && b[identStart] == ASCII.dash
        i += 1

        // User: a non-empty token, or a quoted field (which may hold spaces), then " [".
        let userStart = i
        var userEnd: Int
        guard i < end else { return Self.failure(.badFormat) }
        // In bounds: i < end is checked just above.
        if b[i] == ASCII.quote {
            guard let closing = b.closingQuote(from: i + 1) else { return Self.failure(.badFormat) }
            userEnd = closing + 1
        } else {
            // In bounds: i + 1 < end is checked before reading it.
            userEnd = i + 1 < end && b[i + 1] == ASCII.space ? i + 1 : b.firstIndex(of: ASCII.space, from: i, to: end)
        }
        // Timestamp, then its closing bracket.
        var stampStart = userEnd + 2
        var minute: Int32? = nil
        // In bounds: each index is checked against end before it is read.
        if userEnd + 1 < end, b[userEnd + 1] == ASCII.openBracket, end - stampStart > TimestampCache.length,
            b[stampStart + TimestampCache.length] == ASCII.closeBracket
        {
            minute = timestamps.minute(b, at: stampStart)
        }
        // nginx writes `$remote_user` from any `Authorization: Basic` header, its spaces (and
        // brackets) unescaped: after a `-` ident, an unquoted user runs to the first ` [` that
        // opens a valid time followed by `] "`.
        // In bounds: userStart < end (checked above).
        if minute == nil, identIsDash, b[userStart] != ASCII.quote, let later = userEndBeforeTime(b, from: userEnd) {
            userEnd = later
            stampStart = later + 2
            minute = timestamps.minute(b, at: stampStart)
        }
        // In bounds: userStart < end (checked above); userEnd + 1 < end is checked before its read.
        guard userEnd > userStart, b[userStart] != ASCII.space, userEnd + 1 < end,
            b[userEnd + 1] == ASCII.openBracket
        else {
            return Self.failure(.badFormat)
        }
        guard let minute else { return Self.failure(.badTimestamp) }
        i = stampStart + TimestampCache.length + 1
        // In bounds: i < end is checked first.
        guard i < end, b[i] == ASCII.space else { return Self.failure(.badFormat) }
        i += 1

        // Request: a quoted field.
        // In bounds: i < end is checked first.
        guard i < end, b[i] == ASCII.quote, let requestEnd = b.closingQuote(from: i + 1) else {
            return Self.failure(.badRequest)
        }
        let path = wantsPath ? Self.requestTarget(b, (i + 1)..<requestEnd) : nil
        // closingQuote guarantees a space (or the end) right after the quote.
        i = requestEnd + 2
        guard i < end else { return Self.failure(.badFormat) }

        // Status: exactly three digits.
        // In bounds: i + 3 <= end is checked before reading i, i + 1, i + 2, and i + 3 < end before i + 3.
        guard end - i >= 3, end - i == 3 || b[i + 3] == ASCII.space else {
            return Self.failure(.badStatus)
        }
        let s0 = b[i] &- ASCII.zero
        let s1 = b[i + 1] &- ASCII.zero
        let s2 = b[i + 2] &- ASCII.zero
        guard s0 <= 9, s1 <= 9, s2 <= 9 else { return Self.failure(.badStatus) }
        let status = UInt16(s0) * 100 + UInt16(s1) * 10 + UInt16(s2)
        i += 4
        guard i < end else { return Self.failure(.badFormat) }

        // Size: "-" or digits.
        var size: UInt64 = 0
        // In bounds: i < end holds here; i + 1 is read only when i + 1 < end.
        if b[i] == ASCII.dash, i + 1 == end || b[i + 1] == ASCII.space {
            i += 1
        } else if end - i >= 8, let (value, digits) = Self.shortNumber(b, at: i) {
            // Up to 7 digits then a non-digit, read as one word: most sizes. The non-digit must
            // be the space that ends the field.
            // In bounds: digits < 8 and i + 8 <= end.
            guard digits > 0, b[i + digits] == ASCII.space else { return Self.failure(.badSize) }
            size = value
            i += digits
        } else {
            let sizeStart = i
            // In bounds: the loop condition checks i < end.
            while i < end, b[i] != ASCII.space {
                let digit = b[i] &- ASCII.zero
                guard digit <= 9 else { return Self.failure(.badSize) }
                size = size &* 10 &+ UInt64(digit)
                i += 1
            }
            // Up to 19 digits cannot overflow; longer sizes are re-read with overflow checks.
            guard i > sizeStart, i - sizeStart <= 19 || Self.fitsUInt64(b[sizeStart..<i]) else {
                return Self.failure(.badSize)
            }
        }

        line = ParsedLine(minute: minute, status: status, bytes: size, client: client, host: host, path: path)
        return i
    }

    /// `parsePrefix`'s result for a malformed line.
    @inline(__always)
    static func failure(_ reason: MalformedReason) -> Int { -1 - reason.index }

    /// The reason a negative `parsePrefix` result stands for.
    static func reason(ofFailure result: Int) -> MalformedReason { MalformedReason.allCases[-1 - result] }

    /// The decimal digits at the start of the 8 bytes at `offset` (which must be in bounds) and
    /// their value, when a non-digit follows within them; nil for 8 digits (a longer number).
    ///
    /// SWAR: every lane is classified at once, then the digits are shifted to the top of the
    /// word (the lanes below become leading zeros) and combined pairwise: 3 multiplications
    /// instead of a dependent multiply-add per digit.
    @inline(__always)
    static func shortNumber(_ b: UnsafeRawBufferPointer, at offset: Int) -> (value: UInt64, digits: Int)? {
        // Lane k is byte offset + k on any host once read as little-endian.
        let word = UInt64(littleEndian: b.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        // A lane's high bit: set unless it is "0"..."9" (above "9", below "0", or non-ASCII).
        // A carry or borrow only crosses out of a lane that is itself flagged, so the lowest
        // flagged lane is exact.
        let nonDigits = ((word &+ 0x4646_4646_4646_4646) | (word &- 0x3030_3030_3030_3030)) & 0x8080_8080_8080_8080
        guard nonDigits != 0 else { return nil }
        let digits = nonDigits.trailingZeroBitCount >> 3
        guard digits > 0 else { return (0, 0) }
        // Lanes below `digits` are digits, so subtracting borrows nothing into them; the lanes
        // from `digits` up (whatever a borrow did to them) are shifted out.
        var value = (word &- 0x3030_3030_3030_3030) << UInt64(8 * (8 - digits))
        value = ((value & 0x0F0F_0F0F_0F0F_0F0F) &* (1 + 10 << 8)) >> 8
        value = ((value & 0x00FF_00FF_00FF_00FF) &* (1 + 100 << 16)) >> 16
        value = ((value & 0x0000_FFFF_0000_FFFF) &* (1 + 10_000 << 32)) >> 32
        return (value, digits)
    }

    /// Whether decimal digits denote a number that fits in `UInt64`.
    private static func fitsUInt64(_ digits: Slice<UnsafeRawBufferPointer>) -> Bool {
        var value: UInt64 = 0
        for byte in digits {
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(byte &- ASCII.zero))
            guard !overflow1, !overflow2 else { return false }
            value = sum
        }
        return true
    }

    /// Whether the line's last byte is a `"` preceded by an even number of backslashes.
    @inline(__always)
    private static func endsInUnescapedQuote(_ b: UnsafeRawBufferPointer) -> Bool {
        var i = b.count - 1
        // In bounds: i >= 0 is checked before each read.
        guard i >= 0, b[i] == ASCII.quote else { return false }
        var backslashes = 0
        while i > 0, b[i - 1] == ASCII.backslash {
            backslashes += 1
            i -= 1
        }
        return backslashes & 1 == 0
    }

    /// Whether a non-empty line holds nothing but spaces.
    private static func onlySpaces(_ b: UnsafeRawBufferPointer) -> Bool {
        b.allSatisfy { $0 == ASCII.space }
    }

    /// The host part of a virtual-host token: the text before a final `:port`.
    ///
    /// The suffix is dropped only when it is `:` plus digits and what remains is non-empty and
    /// does not itself end in `:`, so IPv6 literals stay whole (`::1` stays `::1`, `[::1]:443`
    /// becomes `[::1]`, and `2001:db8::1:443`, as `%v:%p` writes it, becomes `2001:db8::1`).
    /// Returns `nil` when the host would be empty, or the token ends in a comma.
    static func hostRange(_ b: UnsafeRawBufferPointer, _ token: Range<Int>) -> Range<Int>? {
        // A token ending in a comma is the first address of a `client, proxy` chain (Apache's
        // `%{X-Forwarded-For}i` first), never a virtual host.
        // In bounds: token.upperBound - 1 is inside the token when it is not empty.
        guard !token.isEmpty, b[token.upperBound - 1] != 0x2C else { return nil }
        var colon = token.upperBound - 1
        // In bounds: colon stays within token, which lies inside b.
        while colon >= token.lowerBound, b[colon] != ASCII.colon { colon -= 1 }
        guard colon >= token.lowerBound else { return token }
        let port = (colon + 1)..<token.upperBound
        guard !port.isEmpty, b[port].allSatisfy({ $0 &- ASCII.zero <= 9 }) else { return token }
        guard colon > token.lowerBound else { return nil }
        // In bounds: colon - 1 >= token.lowerBound.
        return b[colon - 1] == ASCII.colon ? token : token.lowerBound..<colon
    }

    /// The target of a request `METHOD TARGET [PROTO]`, or `nil` for any other request text.
    ///
    /// The method is letters, `-` and `_`; the target and protocol are non-empty and hold no spaces.
    @inline(__always)
    static func requestTarget(_ b: UnsafeRawBufferPointer, _ request: Range<Int>) -> Range<Int>? {
        var i = request.lowerBound
        // In bounds: the loop condition checks i < request.upperBound <= count.
        while i < request.upperBound, isMethodByte(b[i]) { i += 1 }
        // In bounds: i < request.upperBound is checked first.
        guard i > request.lowerBound, i < request.upperBound, b[i] == ASCII.space else { return nil }
        let targetStart = i + 1
        let targetEnd = b.firstIndex(of: ASCII.space, from: targetStart, to: request.upperBound)
        guard targetEnd > targetStart else { return nil }
        if targetEnd == request.upperBound { return targetStart..<targetEnd }
        let protocolStart = targetEnd + 1
        guard protocolStart < request.upperBound,
            b.firstIndex(of: ASCII.space, from: protocolStart, to: request.upperBound) == request.upperBound
        else { return nil }
        return targetStart..<targetEnd
    }

    @inline(__always)
    static func isMethodByte(_ byte: UInt8) -> Bool {
        let lower = byte | 0x20
        return (lower >= 0x61 && lower <= 0x7A) || byte == ASCII.dash || byte == 0x5F
    }
}
