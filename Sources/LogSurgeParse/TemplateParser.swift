/// Parses lines laid out by a `LogTemplate`: literal text and fields in order, in one pass.
///
/// A field's end is found by its shape: a time is read where it stands (`dd/Mon/yyyy:HH:MM:SS
/// ±hhmm`, ISO 8601, a number since the epoch, strftime pieces), a quoted field ends at the
/// first unescaped `"` that the rest of the literal after it follows (so `\"` as Apache and
/// nginx's `escape=json` write it, `\x22` as nginx's default escaping writes it, and even a bare
/// `"` inside with `escape=none` are read), a bare field at the literal that follows (a chain
/// `a, b` stays whole), the last field at the end of the line. Then the literal must follow.
/// Whatever comes after the template's last literal is ignored, as for the built-in formats.
///
/// A line cut inside a quoted field (its closing quote never comes) still counts when the time,
/// the status and the client were read before the cut: it is marked `truncated`, and fields
/// after the cut are missing (a missing size counts as 0).
///
/// No allocation and no regular expression: the template is compiled into a flat table of
/// steps read through a pointer; times go through the same caches as the built-in parser.
///
/// Performance: see `Benchmarks/StageBenchmark` (rows "template combined", "template main").
public struct TemplateParser: Sendable {
    public let template: LogTemplate
    private let program: TemplateProgram
    /// The built-in scanner, for templates of its family: the whole line when the template is
    /// the common-log layout followed by quoted fields (`TemplateProgram.quotedTail`), else the
    /// common-log prefix when it starts with one (`TemplateProgram.prefix`).
    private var builtIn: AccessLogParser
    private var localTimes = TimestampCache()
    private var isoTimes = ISOTimeCache()
    private var partsKey: Int64 = -1
    private var partsMinute: Int32 = 0
    /// Ops before this index may run past their literal's first byte (`laterLiteral`); from the
    /// first bare chain on, they may not: a chain a visitor sent with spaces would otherwise
    /// shift the fields after it, and the visitor would choose the client.
    private let extendsTokensBefore: Int
    /// For a template that starts with a bare chain (`xff_combined`): how many spaces past its
    /// usual end the chain runs, tried when a line does not parse (a visitor's header with spaces).
    private var chainSpaces = 0
    /// The most spaces `chainSpaces` tries, so a hostile line costs a bounded number of scans.
    static let maximumChainSpaces = 8
    /// Whether `ParsedLine.path` is wanted; when not, the request is only delimited. By default, true.
    public var wantsPath = true {
        didSet { builtIn.wantsPath = wantsPath }
    }

    public init(template: LogTemplate) {
        self.template = template
        let program = TemplateProgram(template)
        self.program = program
        extendsTokensBefore =
            (0..<program.count).first { program.ops[$0].code == .capture && program.ops[$0].shape == .list }
            ?? program.count
        if let prefix = program.prefix, let tail = program.quotedTail {
            builtIn = AccessLogParser(hasHost: prefix.hasHost, identIsDash: prefix.identIsDash, quoted: tail)
        } else {
            builtIn = AccessLogParser(format: .common)
        }
    }

    /// Parses one line; `line` excludes the `"\n"`, a trailing `"\r"` is ignored.
    public mutating func parse(_ line: UnsafeRawBufferPointer) -> ParseResult {
        // Compiled into the built-in scanner: a format string of the common-log family.
        if program.quotedTail != nil { return builtIn.parse(line) }
        var count = line.count
        // In bounds: count - 1 is read only when count > 0.
        if count > 0, line[count - 1] == ASCII.carriageReturn { count -= 1 }
        guard count > 0, let base = line.baseAddress else { return .malformed(.empty) }
        guard count <= AccessLogParser.maxLineLength else { return .malformed(.tooLong) }
        let b = UnsafeRawBufferPointer(start: base, count: count)
        // In bounds: count > 0.
        if b[0] == ASCII.space, b.allSatisfy({ $0 == ASCII.space }) { return .malformed(.empty) }
        if b[0] == ASCII.openBrace, !program.startsWithBrace { return .malformed(.badFormat) }
        let result = scan(b)
        if case .malformed = result, extendsTokensBefore == 0 { return scanWithLongerChain(b) ?? result }
        return result
    }

    /// A line of a template that starts with a bare chain, read with the chain running over
    /// 1, 2, … spaces more: Apache logs `%{X-Forwarded-For}i` as received, and a visitor's own
    /// `X-Forwarded-For: a b` arrives as `a b, <their address>`.
    @inline(never)
    private mutating func scanWithLongerChain(_ b: UnsafeRawBufferPointer) -> ParseResult? {
        defer { chainSpaces = 0 }
        for spaces in 1...Self.maximumChainSpaces {
            chainSpaces = spaces
            let result = scan(b)
            if case .parsed(let fields) = result, let chain = fields.forwarded,
                b[chain.upperBound - 1] != ASCII.comma, chain.upperBound - chain.lowerBound > 0
            {
                return result
            }
        }
        return nil
    }

    /// Reads the fields of a line that is not empty, has no terminator and fits the length limit.
    ///
    /// One dispatch per field, on an opcode that fuses the field's shape and role; the common
    /// fields (a one-byte `-`, a three-digit status, a short size) are read where they stand
    /// without a scan. Every `b[i]` is preceded by a check that `i < end`, or follows from a
    /// scan that returns indices below `end`; the comments name the check.
    @inline(__always)
    private mutating func scan(_ b: UnsafeRawBufferPointer) -> ParseResult {
        let end = b.count
        let ops = program.ops
        let pool = program.pool
        let count = program.count
        guard program.leading.matches(b, at: 0, end: end, pool: pool) else { return .malformed(.badFormat) }
        var i = Int(program.leading.literalCount)
        var fields = ParsedLine(minute: 0, status: 0, bytes: 0, client: nil)
        var parts = TimeParts()
        var k = 0
        if let prefix = program.prefix {
            // The fields every common-log layout shares, by the built-in parser's own scanner.
            let next = builtIn.parsePrefix(b, hasHost: prefix.hasHost, into: &fields)
            guard next >= 0 else { return .malformed(AccessLogParser.reason(ofFailure: next)) }
            // nginx writes a literal `-` where Apache has `%l`.
            // In bounds: the client is followed by a space, the ident and a space, all inside b.
            if prefix.identIsDash, let client = fields.client,
                b[client.upperBound + 1] != ASCII.dash || b[client.upperBound + 2] != ASCII.space
            {
                return .malformed(.badFormat)
            }
            // In bounds: prefix.sizeIndex < count.
            let size = ops[prefix.sizeIndex]
            guard size.matches(b, at: next, end: end, pool: pool) else { return .malformed(.badFormat) }
            i = next + Int(size.literalCount)
            k = prefix.sizeIndex + 1
        }
        while k < count {
            // In bounds: k < count, the number of ops.
            let op = ops + k
            let start = i
            var fieldEnd: Int
            if op.pointee.code == .quoted, op.pointee.isLast, op.pointee.literalCount == 1, Self.endsInUnescapedQuote(b, after: start) {
                // The last field ends at the line's final quote: no need to scan it (the usual user agent).
                fieldEnd = end - 1
            } else if op.pointee.code == .quoted, let found = b.closingQuote(from: start, literal: op, pool: pool) {
                fieldEnd = found
            } else {
                fieldEnd = read(op, b, from: start, end: end, pool: pool, fields: &fields, parts: &parts)
                if fieldEnd < 0 {
                    if fieldEnd == Self.cut { return finish(&fields, parts: &parts) }
                    return .malformed(AccessLogParser.reason(ofFailure: fieldEnd))
                }
            }
            // The literal after the field.
            if !op.pointee.matches(b, at: fieldEnd, end: end, pool: pool) {
                let code = op.pointee.code
                guard code == .token, k < extendsTokensBefore,
                    let later = Self.laterLiteral(op, b, from: start, after: fieldEnd, end: end, pool: pool)
                else {
                    return .malformed(
                        code == .localTime && op.pointee.keepsTime ? .badTimestamp : code == .client ? .badClient : .badFormat)
                }
                fieldEnd = later
            }
            i = fieldEnd + Int(op.pointee.literalCount)
            k += 1
        }
        return finish(&fields, parts: &parts)
    }

    /// Where the literal after an opaque bare field stands when the field holds its first byte:
    /// nginx writes `$remote_user` from any `Authorization: Basic` header with its spaces, so
    /// `- a b [10/Oct/2024:…` is the user `a b` before ` [`. Only for a literal of two bytes or
    /// more (one byte would accept anything), over printable bytes; nil when it is not found.
    @inline(never)
    private static func laterLiteral(
        _ op: UnsafePointer<TemplateOp>, _ b: UnsafeRawBufferPointer, from start: Int, after fieldEnd: Int, end: Int,
        pool: UnsafeMutablePointer<UInt8>
    ) -> Int? {
        guard op.pointee.literalCount > 1, !op.pointee.runsToEnd, fieldEnd < end else { return nil }
        var candidate = b.firstIndex(of: op.pointee.literalFirst, from: fieldEnd + 1, to: end)
        while candidate < end {
            if op.pointee.matches(b, at: candidate, end: end, pool: pool) {
                return isPrintable(b, start..<candidate) ? candidate : nil
            }
            candidate = b.firstIndex(of: op.pointee.literalFirst, from: candidate + 1, to: end)
        }
        return nil
    }

    /// `read`'s result for a line cut inside a quoted field that counts all the same.
    private static let cut = Int.min

    /// Reads the field of `op` at `start`: the index where it ends, or `cut`, or
    /// `AccessLogParser.failure(reason)`. Out of line, so that the loop above (which handles
    /// the quoted fields of a line's tail itself) stays small.
    @inline(never)
    private mutating func read(
        _ opPointer: UnsafePointer<TemplateOp>, _ b: UnsafeRawBufferPointer, from start: Int, end: Int,
        pool: UnsafeMutablePointer<UInt8>, fields: inout ParsedLine, parts: inout TimeParts
    ) -> Int {
        let op = opPointer.pointee
        let wantsPath = self.wantsPath, hostFromURL = program.hostFromRequestURL
        var fieldEnd: Int
        switch op.code {
        case .client:
            // An address or a host name: printable ASCII up to the literal.
            fieldEnd = b.endOfToken(from: start, to: end)
            // A literal of another printable byte (`[$remote_addr]`, `$remote_addr|...`,
            // `client=$remote_addr;`) ends the token where that byte first stands.
            // In bounds: fieldEnd < end is checked first.
            if !op.runsToEnd, fieldEnd == end || b[fieldEnd] != op.literalFirst, Self.endsClientInside(op.literalFirst) {
                let literal = b.firstIndex(of: op.literalFirst, from: start, to: end)
                if literal < end, b.endOfToken(from: start, to: literal) == literal { fieldEnd = literal }
            }
            guard fieldEnd > start, fieldEnd == end || b[fieldEnd] == op.literalFirst || op.runsToEnd else {
                return AccessLogParser.failure(.badClient)
            }
            fields.client = start..<fieldEnd
        case .token:
            // In bounds: start + 1 < end is checked before reading it and start.
            if start + 1 < end, b[start + 1] == op.literalFirst, b[start] != ASCII.quote, !op.runsToEnd {
                fieldEnd = start + 1  // a one-byte field, usually "-"
            } else {
                guard let found = Self.delimit(b, op, from: start, end: end) else { return AccessLogParser.failure(.badFormat) }
                fieldEnd = found
            }
        case .quoted:
            // The last field ends at the line's final quote: no need to scan it.
            if op.isLast, op.literalCount == 1, Self.endsInUnescapedQuote(b, after: start) {
                fieldEnd = end - 1
            } else if let found = b.closingQuote(from: start, literal: opPointer, pool: pool) {
                fieldEnd = found
            } else {
                return Self.truncate(&fields, at: op, reason: .badFormat, b: b, from: start)
            }
        case .request:
            guard let found = Self.quotedEnd(b, op, from: start, end: end, pool: pool) else {
                return Self.truncate(&fields, at: op, reason: .badRequest, b: b, from: start)
            }
            fieldEnd = found
            Self.request(b, start..<fieldEnd, wantsPath: wantsPath, hostFromURL: hostFromURL, into: &fields)
        case .requestToken:
            guard let found = Self.delimit(b, op, from: start, end: end) else { return AccessLogParser.failure(.badRequest) }
            fieldEnd = found
            Self.request(b, start..<fieldEnd, wantsPath: wantsPath, hostFromURL: hostFromURL, into: &fields)
        case .status:
            // Three digits where they stand, then the literal (or the end).
            // In bounds: start + 3 <= end is checked before reading start...start + 2, and start + 3 < end before start + 3.
            guard end - start >= 3, start + 3 == end || b[start + 3] == op.literalFirst || op.runsToEnd else {
                return AccessLogParser.failure(.badStatus)
            }
            let s0 = b[start] &- ASCII.zero, s1 = b[start + 1] &- ASCII.zero, s2 = b[start + 2] &- ASCII.zero
            guard s0 <= 9, s1 <= 9, s2 <= 9, !op.runsToEnd || start + 3 == end else { return AccessLogParser.failure(.badStatus) }
            fields.status = UInt16(s0) * 100 + UInt16(s1) * 10 + UInt16(s2)
            fieldEnd = start + 3
        case .size:
            // In bounds: start < end is checked before reading it, start + 1 < end before start + 1.
            if start < end, b[start] == ASCII.dash, start + 1 == end || b[start + 1] == op.literalFirst {
                fieldEnd = start + 1
            } else if end - start >= 8, let (value, digits) = AccessLogParser.shortNumber(b, at: start), digits > 0,
                b[start + digits] == op.literalFirst, !op.runsToEnd
            {
                // In bounds: digits < 8 and start + 8 <= end.
                fields.bytes = value
                fieldEnd = start + digits
            } else {
                guard let found = Self.delimit(b, op, from: start, end: end), let size = Self.size(b, start..<found) else {
                    return AccessLogParser.failure(.badSize)
                }
                fields.bytes = size
                fieldEnd = found
            }
        case .capture:
            guard
                var found = op.shape == .quoted
                    ? Self.quotedEnd(b, op, from: start, end: end, pool: pool) : Self.delimit(b, op, from: start, end: end)
            else {
                if op.shape == .quoted { return Self.truncate(&fields, at: op, reason: .badFormat, b: b, from: start) }
                return AccessLogParser.failure(op.slot == .client ? .badClient : .badFormat)
            }
            if chainSpaces > 0, op.shape == .list, op.literalFirst == ASCII.space {
                for _ in 0..<chainSpaces where found < end {
                    found = Self.listEnd(b, from: start, firstSpace: b.firstIndex(of: ASCII.space, from: found + 1, to: end), end: end)
                }
                guard found < end else { return AccessLogParser.failure(.badFormat) }
            }
            fieldEnd = found
            guard Self.capture(b, start..<fieldEnd, slot: op.slot, wantsPath: wantsPath, into: &fields) else {
                return AccessLogParser.failure(.badFormat)
            }
            // A chain the server wrote bare is printable ASCII (nginx and Apache escape the
            // rest): other bytes mean another layout, or a line that is not a log line.
            if op.slot == .forwarded, op.shape != .quoted, !Self.isPrintable(b, start..<fieldEnd) {
                return AccessLogParser.failure(.badClient)
            }
        case .localTime:
            // In bounds: the cache reads `length` bytes from start, checked here.
            guard end - start >= TimestampCache.length, let minute = localTimes.minute(b, at: start) else {
                return AccessLogParser.failure(op.keepsTime ? .badTimestamp : .badFormat)
            }
            if op.keepsTime { fields.minute = minute }
            fieldEnd = start + TimestampCache.length
        case .isoTime:
            guard let (minute, next, hasZone) = isoTimes.minute(b, at: start, end: end) else {
                return AccessLogParser.failure(op.keepsTime ? .badTimestamp : .badFormat)
            }
            if op.keepsTime {
                fields.minute = minute
                fields.timeWithoutZone = !hasZone
            }
            fieldEnd = next
        case .epoch:
            guard let (minute, next) = op.epochUnit.minute(b, at: start, end: end) else {
                return AccessLogParser.failure(op.keepsTime ? .badTimestamp : .badFormat)
            }
            if op.keepsTime { fields.minute = minute }
            fieldEnd = next
        case .timePiece:
            guard let next = op.timePiece.read(b, at: start, end: end, into: &parts) else {
                return AccessLogParser.failure(op.keepsTime ? .badTimestamp : .badFormat)
            }
            fieldEnd = next
        }

        return fieldEnd
    }

    /// Whether a literal starting with `byte` can end a client inside its printable token: any
    /// printable byte that no address, port or host name holds (letters, digits, `.`, `:`, `-`, `_`).
    @inline(__always)
    private static func endsClientInside(_ byte: UInt8) -> Bool {
        byte > ASCII.space && byte <= 0x7E && byte != ASCII.quote && byte != ASCII.comma && byte != ASCII.colon
            && byte != UInt8(ascii: ".") && byte != UInt8(ascii: "-") && byte != UInt8(ascii: "_")
            && !(byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
            && !(byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            && !(byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
    }

    /// The end of a bare field at `start`: the last field runs to the end of the line (less
    /// trailing spaces); a field the server quoted (it starts with `"` where the format has no
    /// quote) ends at its closing quote; a list runs past `, ` and ` : `; any other field
    /// ends at the literal's first byte. Nil when the field is empty.
    @inline(__always)
    private static func delimit(_ b: UnsafeRawBufferPointer, _ op: TemplateOp, from start: Int, end: Int) -> Int? {
        var fieldEnd: Int
        if op.runsToEnd {
            fieldEnd = end
            // In bounds: fieldEnd - 1 >= start >= 0 is checked first.
            while fieldEnd > start, b[fieldEnd - 1] == ASCII.space { fieldEnd -= 1 }
        } else if op.shape == .beforeLastColon {
            fieldEnd = b.endOfToken(from: start, to: end)
            // In bounds: fieldEnd - 1 >= start is checked first.
            while fieldEnd > start, b[fieldEnd - 1] != ASCII.colon { fieldEnd -= 1 }
            guard fieldEnd > start + 1 else { return nil }
            fieldEnd -= 1
        } else if start < end, b[start] == ASCII.quote, op.literalFirst != ASCII.quote {
            // In bounds: start < end is checked first.
            guard let closing = b.closingQuote(from: start + 1, followedBy: op.literalFirst) else { return nil }
            fieldEnd = closing + 1
        } else {
            fieldEnd = b.firstIndex(of: op.literalFirst, from: start, to: end)
            if op.shape == .list && op.literalFirst == ASCII.space {
                fieldEnd = Self.listEnd(b, from: start, firstSpace: fieldEnd, end: end)
            }
        }
        return fieldEnd > start ? fieldEnd : nil
    }

    /// The closing quote of a quoted field whose text starts at `start`, or nil when there is none.
    @inline(__always)
    private static func quotedEnd(
        _ b: UnsafeRawBufferPointer, _ op: TemplateOp, from start: Int, end: Int, pool: UnsafeMutablePointer<UInt8>
    ) -> Int? {
        // The last field ends at the line's final quote: no need to scan it.
        if op.isLast, op.literalCount == 1, Self.endsInUnescapedQuote(b, after: start) { return end - 1 }
        return withUnsafePointer(to: op) { b.closingQuote(from: start, literal: $0, pool: pool) }
    }

    /// A line cut inside the quoted field at `start`: it counts (truncated, `cut`) when what it
    /// needs was read before the field; a quote that closes the field but that the template's
    /// next literal does not follow means another layout.
    private static func truncate(
        _ fields: inout ParsedLine, at op: TemplateOp, reason: MalformedReason,
        b: UnsafeRawBufferPointer, from start: Int
    ) -> Int {
        guard op.countsWhenCut, b.closingQuote(from: start) == nil else { return AccessLogParser.failure(reason) }
        fields.truncated = true
        return cut
    }

    /// The path (and for ALB the site) of a request line.
    @inline(__always)
    private static func request(
        _ b: UnsafeRawBufferPointer, _ range: Range<Int>, wantsPath: Bool, hostFromURL: Bool, into fields: inout ParsedLine
    ) {
        guard wantsPath || hostFromURL else { return }
        let target = AccessLogParser.requestTarget(b, range)
        if let target, let (host, path) = Self.absoluteTarget(b, target) {
            if hostFromURL { fields.host = host }
            if wantsPath { fields.path = path }
        } else if wantsPath {
            fields.path = target
        }
    }

    /// Keeps a captured field (client, host, path, forwarded chain, country) in its place; false when
    /// a host is not one.
    @inline(__always)
    private static func capture(
        _ b: UnsafeRawBufferPointer, _ range: Range<Int>, slot: TemplateOp.Slot, wantsPath: Bool, into fields: inout ParsedLine
    ) -> Bool {
        switch slot {
        case .client:
            fields.client = range
        case .host:
            guard let host = AccessLogParser.hostRange(b, range) else { return false }
            fields.host = host
        case .path:
            if wantsPath, !Self.isDash(b, range) { fields.path = range }
        case .forwarded:
            if !Self.isDash(b, range) { fields.forwarded = range }
        case .country:
            if !Self.isDash(b, range) { fields.countryHint = range }
        }
        return true
    }

    /// The line's result once its fields are read: the minute from its pieces when the time came in pieces.
    @inline(__always)
    private mutating func finish(_ fields: inout ParsedLine, parts: inout TimeParts) -> ParseResult {
        if program.usesTimePieces {
            guard let minute = minute(of: &parts) else { return .malformed(.badTimestamp) }
            fields.minute = minute
        }
        return .parsed(fields)
    }

    /// The UTC minute of time pieces, remembered for the next line with the same pieces.
    private mutating func minute(of parts: inout TimeParts) -> Int32? {
        if let epoch = parts.epochMinute { return epoch }
        parts.resolveDayOfYear()
        let hour = parts.twelveHour ? (parts.afternoon ? 100 : 0) + parts.hour : parts.hour
        // Out-of-range pieces (two digits read 00–99) are invalid times; the bounds also keep
        // each piece inside its bits of the key (day 69 must not pack as day 5).
        guard parts.year >= 0, parts.year < 100_000, (0...12).contains(parts.month), (0...31).contains(parts.day),
            (0..<200).contains(hour), (0..<60).contains(parts.minute)
        else { return nil }
        let key =
            Int64(parts.year) << 40 | Int64(parts.month) << 36 | Int64(parts.day) << 30 | Int64(hour) << 22
            | Int64(parts.minute) << 14 | Int64((parts.offset ?? 0) + 8192)  // a %z offset is within ±99:99
        if key == partsKey { return partsMinute }
        guard let minute = parts.utcMinute() else { return nil }
        partsKey = key
        partsMinute = minute
        return minute
    }

    /// Whether `b[range]` is printable ASCII (spaces included).
    private static func isPrintable(_ b: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        // In bounds: range lies inside b.
        for index in range where b[index] < ASCII.space || b[index] > 0x7E { return false }
        return true
    }

    /// The end of a list field that starts at `start`, whose first space is `firstSpace`: a space
    /// after a comma (`a, b`) or around a colon (nginx's `0.010, 0.002 : 0.001`) does not end it.
    @inline(__always)
    private static func listEnd(_ b: UnsafeRawBufferPointer, from start: Int, firstSpace: Int, end: Int) -> Int {
        var space = firstSpace
        // In bounds: space > start >= 0 and space < end are checked before each read.
        while space < end, space > start,
            b[space - 1] == 0x2C || b[space - 1] == ASCII.colon || (space + 1 < end && b[space + 1] == ASCII.colon)
        {
            space = b.firstIndex(of: ASCII.space, from: space + 1, to: end)
        }
        return space
    }

    /// Whether the line ends in a `"` past `start` that is not escaped.
    @inline(__always)
    private static func endsInUnescapedQuote(_ b: UnsafeRawBufferPointer, after start: Int) -> Bool {
        var i = b.count - 1
        // In bounds: i >= start >= 0 is checked before each read.
        guard i >= start, b[i] == ASCII.quote else { return false }
        var backslashes = 0
        while i > start, b[i - 1] == ASCII.backslash {
            backslashes += 1
            i -= 1
        }
        return backslashes & 1 == 0
    }

    /// `-` (0) or decimal digits that fit in 64 bits.
    @inline(__always)
    static func size(_ b: UnsafeRawBufferPointer, _ field: Range<Int>) -> UInt64? {
        let count = field.count
        // In bounds: the field lies inside b.
        if count == 1, b[field.lowerBound] == ASCII.dash { return 0 }
        if count < 8, b.count - field.lowerBound >= 8, let (value, digits) = AccessLogParser.shortNumber(b, at: field.lowerBound) {
            return digits == count ? value : nil
        }
        guard count > 0, count <= 20 else { return nil }
        var value: UInt64 = 0
        for index in field {
            let digit = b[index] &- ASCII.zero
            guard digit <= 9 else { return nil }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(digit))
            guard !overflow1, !overflow2 else { return nil }
            value = sum
        }
        return value
    }

    /// Whether the field is empty or `-` (what servers log for a value that is not there).
    @inline(__always)
    static func isDash(_ b: UnsafeRawBufferPointer, _ field: Range<Int>) -> Bool {
        // In bounds: the field lies inside b.
        field.isEmpty || (field.count == 1 && b[field.lowerBound] == ASCII.dash)
    }

    /// The host (without port) and path of an absolute request target `scheme://host[:port]/path`.
    static func absoluteTarget(_ b: UnsafeRawBufferPointer, _ target: Range<Int>) -> (host: Range<Int>, path: Range<Int>)? {
        // In bounds: every index read is below target.upperBound <= b.count.
        var i = target.lowerBound
        while i < target.upperBound, isLetter(b[i]) { i += 1 }
        guard i > target.lowerBound, target.upperBound - i > 3, b[i] == ASCII.colon, b[i + 1] == ASCII.slash, b[i + 2] == ASCII.slash else {
            return nil
        }
        let hostStart = i + 3
        let slash = b.firstIndex(of: ASCII.slash, from: hostStart, to: target.upperBound)
        var hostEnd = slash
        // AWS load balancers log a request they could not read as `- http://host:80- -`.
        // In bounds: hostEnd - 1 >= hostStart.
        if slash == target.upperBound, hostEnd - 1 > hostStart, b[hostEnd - 1] == ASCII.dash { hostEnd -= 1 }
        guard hostEnd > hostStart, let host = AccessLogParser.hostRange(b, hostStart..<hostEnd) else { return nil }
        return (host, slash < target.upperBound ? slash..<target.upperBound : (target.upperBound - 1)..<target.upperBound)
    }
}

/// A template flattened for the scanner: one `TemplateOp` per field and the literals' bytes.
///
/// Immutable after `init`; its storage lives as long as the program.
final class TemplateProgram: @unchecked Sendable {
    let ops: UnsafeMutablePointer<TemplateOp>
    let count: Int
    let pool: UnsafeMutablePointer<UInt8>
    let leading: TemplateOp
    let usesTimePieces: Bool
    let hostFromRequestURL: Bool
    let startsWithBrace: Bool
    /// Set when the template starts with the common-log layout (`[host ]client ident user
    /// [time] "request" status size`, as Apache's or nginx's strings write it): the scanner
    /// reads that part with `AccessLogParser.parsePrefix` and goes on from the size's op.
    let prefix: CommonPrefix?
    /// Set when the template is `prefix` followed only by quoted fields (` "…" "…"`, as
    /// combined and nginx's `main`), opaque or kept as a chain or a country: then the built-in
    /// scanner reads the whole line (`AccessLogParser(hasHost:identIsDash:quoted:)`).
    let quotedTail: [AccessLogParser.TailSlot]?

    struct CommonPrefix {
        var hasHost: Bool
        /// nginx's literal ` - ` in place of `%l`: the ident must be `-`.
        var identIsDash: Bool
        /// The op of the size, the last field of the prefix.
        var sizeIndex: Int
    }

    init(_ template: LogTemplate) {
        let literals = [template.leading] + template.fields.map(\.literal)
        let poolSize = max(1, literals.reduce(0) { $0 + $1.count })
        let pool = UnsafeMutablePointer<UInt8>.allocate(capacity: poolSize)
        self.pool = pool
        var offset = 0
        func place(_ literal: [UInt8]) -> Int32 {
            let start = offset
            for byte in literal {
                pool[offset] = byte
                offset += 1
            }
            return Int32(start)
        }
        leading = TemplateOp(TemplateField(shape: .token, role: .opaque, name: "", literal: template.leading), at: place(template.leading))
        count = template.fields.count
        let ops = UnsafeMutablePointer<TemplateOp>.allocate(capacity: max(1, template.fields.count))
        self.ops = ops
        // A line cut inside a quoted field counts when the time, the status and a client (or
        // the chain) came before it.
        var seen = Set<FieldRole>()
        let hasClient = template.fields.contains { $0.role == .client }
        for (index, field) in template.fields.enumerated() {
            var op = TemplateOp(field, at: place(field.literal))
            op.isLast = index == template.fields.count - 1
            let timeRead = seen.contains(.time) && (field.role != .time || !field.shape.isTimePiece)
            op.countsWhenCut =
                timeRead && seen.contains(.status)
                && (hasClient ? seen.contains(.client) : seen.contains(.forwarded) || !template.fields.contains { $0.role == .forwarded })
            (ops + index).initialize(to: op)
            seen.insert(field.role)
        }
        usesTimePieces = template.fields.contains { $0.role == .time && $0.shape.isTimePiece }
        hostFromRequestURL = template.hostFromRequestURL
        startsWithBrace = template.leading.first == ASCII.openBrace
        prefix = template.hostFromRequestURL || !template.leading.isEmpty ? nil : Self.commonPrefix(template.fields)
        quotedTail = prefix.flatMap { Self.quotedTail(template.fields, after: $0.sizeIndex) }
    }

    /// The quoted fields after the size, when nothing else follows it: ` "` then fields
    /// separated by `" "`, the last closed by `"`; or nothing at all (common).
    static func quotedTail(_ fields: [TemplateField], after sizeIndex: Int) -> [AccessLogParser.TailSlot]? {
        let size = fields[sizeIndex]
        if sizeIndex == fields.count - 1 { return size.literal.isEmpty ? [] : nil }
        guard size.literal == Array(#" ""#.utf8), fields.count - sizeIndex - 1 <= AccessLogParser.maximumQuotedFields else { return nil }
        var slots: [AccessLogParser.TailSlot] = []
        for index in (sizeIndex + 1)..<fields.count {
            let field = fields[index]
            let last = index == fields.count - 1
            guard field.shape == .quoted, field.literal == Array((last ? #"""# : #"" ""#).utf8) else { return nil }
            switch field.role {
            case .opaque: slots.append(.skipped)
            case .forwarded: slots.append(.forwarded)
            case .country: slots.append(.country)
            default: return nil
            }
        }
        return slots
    }

    /// Whether `fields` start with the common-log layout, field for field and literal for literal.
    static func commonPrefix(_ fields: [TemplateField]) -> CommonPrefix? {
        var k = 0
        func next(_ role: FieldRole, _ shape: FieldShape, _ literals: [String]) -> String? {
            guard k < fields.count, fields[k].role == role, fields[k].shape == shape else { return nil }
            let literal = String(decoding: fields[k].literal, as: UTF8.self)
            guard literals.contains(literal) || literals.isEmpty else { return nil }
            k += 1
            return literal
        }
        var hasHost = false
        if k < fields.count, fields[k].role == .host {
            if next(.host, .token, [" "]) == nil {
                guard next(.host, .beforeLastColon, [":"]) != nil, next(.opaque, .token, [" "]) != nil else { return nil }
            }
            hasHost = true
        }
        guard let afterClient = next(.client, .token, [" ", " - "]) else { return nil }
        let identIsDash = afterClient == " - "
        if !identIsDash { guard next(.opaque, .token, [" "]) != nil else { return nil } }
        guard next(.opaque, .token, [" ["]) != nil, next(.time, .localTime, ["] \""]) != nil, next(.request, .quoted, ["\" "]) != nil,
            next(.status, .token, [" "]) != nil, k < fields.count, fields[k].role == .size, fields[k].shape == .token,
            fields[k].literal.first.map({ $0 == ASCII.space }) ?? true
        else { return nil }
        return CommonPrefix(hasHost: hasHost, identIsDash: identIsDash, sizeIndex: k)
    }

    deinit {
        ops.deinitialize(count: count)
        ops.deallocate()
        pool.deallocate()
    }
}

extension FieldShape {
    var isTimePiece: Bool {
        if case .timePiece = self { return true }
        return false
    }
}

/// One field of a `TemplateProgram`: plain values only, so the scanner reads it without
/// reference counting, and one opcode that says how to read it and what to keep.
struct TemplateOp {
    enum Code: UInt8 {
        /// The connecting address: printable ASCII up to the literal.
        case client
        /// An opaque bare field (a one-byte `-` read where it stands).
        case token
        /// An opaque quoted field.
        case quoted
        /// The request line, quoted or bare.
        case request, requestToken
        /// Three digits.
        case status
        /// Digits or `-`.
        case size
        /// A field kept in a `Slot` (host, path, chain, country), of any bare or quoted shape.
        case capture
        /// Times; `keepsTime` is false for a time field that is not the line's time.
        case localTime, isoTime, epoch, timePiece
    }
    enum Shape: UInt8 { case token, list, quoted, beforeLastColon }
    enum Slot: UInt8 { case client, host, path, forwarded, country }

    var code: Code
    var shape: Shape
    var slot: Slot = .host
    var argument: UInt8 = 0
    var keepsTime = false
    var isLast = false
    /// A line cut inside this (quoted) field counts: what it needs came before.
    var countsWhenCut = false
    var literalFirst: UInt8
    var literalStart: Int32
    var literalCount: Int32
    /// The literal's first (up to) 8 bytes as a little-endian word, and the mask of its bytes.
    var literalWord: UInt64
    var literalMask: UInt64

    init(_ field: TemplateField, at start: Int32) {
        let literal = field.literal
        switch field.shape {
        case .token: shape = .token
        case .list: shape = .list
        case .quoted: shape = .quoted
        case .beforeLastColon: shape = .beforeLastColon
        default: shape = .token
        }
        switch (field.role, field.shape) {
        case (_, .localTime): code = .localTime
        case (_, .isoTime): code = .isoTime
        case (_, .epoch(let unit)):
            code = .epoch
            argument = unit.rawValue
        case (_, .timePiece(let piece)):
            code = .timePiece
            argument = piece.rawValue
        case (.client, .token), (.client, .list): code = .client
        case (.client, _):
            code = .capture  // an address before `:port`, or quoted
            slot = .client
        case (.status, _): code = .status
        case (.size, _): code = .size
        case (.request, .quoted): code = .request
        case (.request, _): code = .requestToken
        case (.host, _):
            code = .capture
            slot = .host
        case (.path, _):
            code = .capture
            slot = .path
        case (.forwarded, _):
            code = .capture
            slot = .forwarded
        case (.country, _):
            code = .capture
            slot = .country
        case (_, .quoted): code = .quoted
        default: code = .token
        }
        keepsTime = field.role == .time
        literalFirst = literal.first ?? 0
        literalStart = start
        literalCount = Int32(literal.count)
        var word: UInt64 = 0, mask: UInt64 = 0
        for (index, byte) in literal.prefix(8).enumerated() {
            word |= UInt64(byte) << (8 * UInt64(index))
            mask |= 0xFF << (8 * UInt64(index))
        }
        literalWord = word
        literalMask = mask
    }

    /// A last field with nothing after it: it runs to the end of the line.
    var runsToEnd: Bool { isLast && literalCount == 0 }

    var epochUnit: EpochUnit { EpochUnit(rawValue: argument) ?? .seconds }
    var timePiece: TimePiece { TimePiece(rawValue: argument) ?? .year }

    /// Whether the literal stands at `position` of `b` (whose readable end is `end`).
    @inline(__always)
    func matches(_ b: UnsafeRawBufferPointer, at position: Int, end: Int, pool: UnsafeMutablePointer<UInt8>) -> Bool {
        let count = Int(literalCount)
        guard count > 0 else { return true }
        guard end - position >= count, let base = b.baseAddress else { return false }
        if count <= 8, end - position >= 8 {
            // In bounds: position + 8 <= end <= b.count.
            let word = UInt64(littleEndian: (base + position).loadUnaligned(as: UInt64.self))
            return word & literalMask == literalWord
        }
        // In bounds: position + count <= end, and the pool holds the literal at literalStart.
        for offset in 0..<count where base.load(fromByteOffset: position + offset, as: UInt8.self) != pool[Int(literalStart) + offset] {
            return false
        }
        return true
    }
}

extension UnsafeRawBufferPointer {
    /// The index of the quote that closes a quoted field whose text starts at `from`: the first
    /// `"` that is not escaped and that `literal` (which starts with that quote) matches from.
    /// For the last field, whose literal is a lone `"`, the quote must be followed by a space or
    /// the end of the line, as for the built-in formats. Nil when there is none.
    @inline(__always)
    func closingQuote(from: Int, literal: UnsafePointer<TemplateOp>, pool: UnsafeMutablePointer<UInt8>) -> Int? {
        if literal.pointee.isLast && literal.pointee.literalCount == 1 { return closingQuote(from: from) }
        let end = count
        return unescapedQuote(from: from) { literal.pointee.matches(self, at: $0, end: end, pool: pool) }
    }
}
