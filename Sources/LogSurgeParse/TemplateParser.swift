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
    private var localTimes = TimestampCache()
    private var isoTimes = ISOTimeCache()
    private var partsKey: Int64 = -1
    private var partsMinute: Int32 = 0
    /// Whether `ParsedLine.path` is wanted; when not, the request is only delimited. By default, true.
    public var wantsPath = true

    public init(template: LogTemplate) {
        self.template = template
        self.program = TemplateProgram(template)
    }

    /// Parses one line; `line` excludes the `"\n"`, a trailing `"\r"` is ignored.
    public mutating func parse(_ line: UnsafeRawBufferPointer) -> ParseResult {
        var count = line.count
        // In bounds: count - 1 is read only when count > 0.
        if count > 0, line[count - 1] == ASCII.carriageReturn { count -= 1 }
        guard count > 0, let base = line.baseAddress else { return .malformed(.empty) }
        guard count <= AccessLogParser.maxLineLength else { return .malformed(.tooLong) }
        let b = UnsafeRawBufferPointer(start: base, count: count)
        // In bounds: count > 0.
        if b[0] == ASCII.space, b.allSatisfy({ $0 == ASCII.space }) { return .malformed(.empty) }
        if b[0] == ASCII.openBrace, !program.startsWithBrace { return .malformed(.badFormat) }
        return scan(b)
    }

    /// Reads the fields of a line that is not empty, has no terminator and fits the length limit.
    ///
    /// Every `b[i]` is preceded by a check that `i < end`, or follows from a scan that returns
    /// indices below `end`; the comments name the check.
    @inline(__always)
    private mutating func scan(_ b: UnsafeRawBufferPointer) -> ParseResult {
        let end = b.count
        let ops = program.ops
        guard program.leading.matches(b, at: 0, end: end, pool: program.pool) else { return .malformed(.badFormat) }
        var i = Int(program.leading.literalCount)
        var fields = ParsedLine(minute: 0, status: 0, bytes: 0, client: nil)
        var seen: UInt16 = 0
        var parts = TimeParts()
        var k = 0
        while k < program.count {
            // In bounds: k < program.count, the number of ops.
            let op = ops[k]
            let start = i
            var fieldEnd: Int
            switch op.shape {
            case .token, .list:
                if op.runsToEnd {
                    fieldEnd = end
                    // In bounds: fieldEnd - 1 >= start >= 0 is checked first.
                    while fieldEnd > start, b[fieldEnd - 1] == ASCII.space { fieldEnd -= 1 }
                } else if op.role == .client || op.role == .host {
                    // An address or a host: printable ASCII without spaces or quotes.
                    fieldEnd = b.endOfToken(from: start, to: end)
                    // In bounds: fieldEnd < end is checked first.
                    if fieldEnd < end, b[fieldEnd] != op.literalFirst {
                        return .malformed(op.role == .client ? .badClient : .badFormat)
                    }
                } else if start < end, b[start] == ASCII.quote, op.literalFirst != ASCII.quote {
                    // A bare field the server quoted because it holds spaces (Apache's `%u`).
                    guard let closing = b.closingQuote(from: start + 1, followedBy: op.literalFirst) else {
                        return .malformed(.badFormat)
                    }
                    fieldEnd = closing + 1
                } else {
                    fieldEnd = b.firstIndex(of: op.literalFirst, from: start, to: end)
                    if op.shape == .list && op.literalFirst == ASCII.space {
                        fieldEnd = Self.listEnd(b, from: start, firstSpace: fieldEnd, end: end)
                    }
                }
                guard fieldEnd > start else {
                    if op.role == .client { return .malformed(.badClient) }
                    return .malformed(op.runsToEnd ? op.role.reason : .badFormat)
                }
            case .quoted:
                if op.isLast, op.literalCount == 1, Self.endsInUnescapedQuote(b, after: start) {
                    // The last field ends at the line's final quote: no need to scan it.
                    fieldEnd = end - 1
                } else if let closing = b.closingQuote(from: start, literal: op, pool: program.pool) {
                    fieldEnd = closing
                } else {
                    // A quote that closes the field but is not followed by the rest of the
                    // template: the line has another layout.
                    if b.closingQuote(from: start) != nil { return .malformed(op.role == .request ? .badRequest : .badFormat) }
                    // Cut by the end of the line: counts if what is needed was read before it.
                    guard Self.hasNeeded(seen, program.needed) else {
                        return .malformed(op.role == .request ? .badRequest : .badFormat)
                    }
                    fields.truncated = true
                    return finish(&fields, parts: &parts)
                }
            case .beforeLastColon:
                let tokenEnd = b.endOfToken(from: start, to: end)
                fieldEnd = tokenEnd
                // In bounds: fieldEnd - 1 >= start is checked first.
                while fieldEnd > start, b[fieldEnd - 1] != ASCII.colon { fieldEnd -= 1 }
                guard fieldEnd > start + 1 else { return .malformed(op.role == .client ? .badClient : .badFormat) }
                fieldEnd -= 1
            case .localTime:
                // In bounds: the cache reads `length` bytes from start, checked here.
                guard end - start >= TimestampCache.length, let minute = localTimes.minute(b, at: start) else {
                    return .malformed(op.role == .time ? .badTimestamp : .badFormat)
                }
                fields.minute = minute
                fieldEnd = start + TimestampCache.length
            case .isoTime:
                guard let (minute, next, _) = isoTimes.minute(b, at: start, end: end) else {
                    return .malformed(op.role == .time ? .badTimestamp : .badFormat)
                }
                fields.minute = minute
                fieldEnd = next
            case .epoch:
                guard let (minute, next) = op.epochUnit.minute(b, at: start, end: end) else {
                    return .malformed(op.role == .time ? .badTimestamp : .badFormat)
                }
                fields.minute = minute
                fieldEnd = next
            case .timePiece:
                guard let next = op.timePiece.read(b, at: start, end: end, into: &parts) else {
                    return .malformed(op.role == .time ? .badTimestamp : .badFormat)
                }
                fieldEnd = next
            }

            switch op.role {
            case .opaque, .time:
                break
            case .client:
                fields.client = start..<fieldEnd
            case .host:
                guard let host = AccessLogParser.hostRange(b, start..<fieldEnd) else { return .malformed(.badFormat) }
                fields.host = host
            case .status:
                // In bounds: start + 2 < fieldEnd <= end.
                guard fieldEnd - start == 3 else { return .malformed(.badStatus) }
                let s0 = b[start] &- ASCII.zero, s1 = b[start + 1] &- ASCII.zero, s2 = b[start + 2] &- ASCII.zero
                guard s0 <= 9, s1 <= 9, s2 <= 9 else { return .malformed(.badStatus) }
                fields.status = UInt16(s0) * 100 + UInt16(s1) * 10 + UInt16(s2)
            case .size:
                guard let size = Self.size(b, start..<fieldEnd) else { return .malformed(.badSize) }
                fields.bytes = size
            case .request:
                if wantsPath || program.hostFromRequestURL {
                    let target = AccessLogParser.requestTarget(b, start..<fieldEnd)
                    if let target, let (host, path) = Self.absoluteTarget(b, target) {
                        if program.hostFromRequestURL { fields.host = host }
                        if wantsPath { fields.path = path }
                    } else if wantsPath {
                        fields.path = target
                    }
                }
            case .path:
                if wantsPath, !Self.isDash(b, start..<fieldEnd) { fields.path = start..<fieldEnd }
            case .forwarded:
                if !Self.isDash(b, start..<fieldEnd) { fields.forwarded = start..<fieldEnd }
            case .country:
                if !Self.isDash(b, start..<fieldEnd) { fields.countryHint = start..<fieldEnd }
            }
            seen |= 1 << op.role.rawValue

            // The literal after the field.
            guard op.matchesLiteral(b, at: fieldEnd, end: end, pool: program.pool) else {
                if case .localTime = op.shape, op.role == .time { return .malformed(.badTimestamp) }
                return .malformed(.badFormat)
            }
            i = fieldEnd + Int(op.literalCount)
            k += 1
        }
        return finish(&fields, parts: &parts)
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
        guard parts.year >= 0, parts.year < 100_000, parts.month >= 0, parts.day >= 0, hour >= 0, parts.minute >= 0 else { return nil }
        let key = Int64(parts.year) << 40 | Int64(parts.month) << 36 | Int64(parts.day) << 30 | Int64(hour) << 22
            | Int64(parts.minute) << 14 | Int64((parts.offset ?? 0) + 1440)
        if key == partsKey { return partsMinute }
        guard let minute = parts.utcMinute() else { return nil }
        partsKey = key
        partsMinute = minute
        return minute
    }

    /// Whether `seen` holds what a line needs to count: the time, the status, and a client or a chain.
    @inline(__always)
    private static func hasNeeded(_ seen: UInt16, _ needed: UInt16) -> Bool {
        let clientOrChain: UInt16 = 1 << FieldRole.client.rawValue | 1 << FieldRole.forwarded.rawValue
        let rest = needed & ~clientOrChain
        return seen & rest == rest && (needed & clientOrChain == 0 || seen & needed & clientOrChain != 0)
    }

    /// The end of a list field that starts at `start`, whose first space is `firstSpace`: a space
    /// after a comma (`a, b`) or around a colon (nginx's `0.010, 0.002 : 0.001`) does not end it.
    @inline(__always)
    private static func listEnd(_ b: UnsafeRawBufferPointer, from start: Int, firstSpace: Int, end: Int) -> Int {
        var space = firstSpace
        // In bounds: space > start >= 0 and space < end are checked before each read.
        while space < end, space > start,
              b[space - 1] == 0x2C || b[space - 1] == ASCII.colon || (space + 1 < end && b[space + 1] == ASCII.colon) {
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
    /// Roles a line must have read to count (bits by `FieldRole.rawValue`).
    let needed: UInt16
    let usesTimePieces: Bool
    let hostFromRequestURL: Bool
    let startsWithBrace: Bool

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
        leading = TemplateOp(shape: .token, role: .opaque, literal: template.leading, at: place(template.leading))
        count = template.fields.count
        let ops = UnsafeMutablePointer<TemplateOp>.allocate(capacity: max(1, template.fields.count))
        self.ops = ops
        var needed: UInt16 = 0
        var pieces = false
        for (index, field) in template.fields.enumerated() {
            var op = TemplateOp(shape: field.shape, role: field.role, literal: field.literal, at: place(field.literal))
            op.isLast = index == template.fields.count - 1
            (ops + index).initialize(to: op)
            switch field.role {
            case .time, .status, .client, .forwarded: needed |= 1 << field.role.rawValue
            default: break
            }
            if field.role == .time, case .timePiece = field.shape { pieces = true }
        }
        self.needed = needed
        usesTimePieces = pieces
        hostFromRequestURL = template.hostFromRequestURL
        startsWithBrace = template.leading.first == ASCII.openBrace
    }

    deinit {
        ops.deinitialize(count: count)
        ops.deallocate()
        pool.deallocate()
    }
}

/// One field of a `TemplateProgram`: plain values only, so the scanner reads it without
/// reference counting.
struct TemplateOp {
    enum Shape: UInt8 { case token, list, quoted, beforeLastColon, localTime, isoTime, epoch, timePiece }

    var shape: Shape
    var role: FieldRole
    var argument: UInt8 = 0
    var isLast = false
    var literalFirst: UInt8
    var literalStart: Int32
    var literalCount: Int32
    /// The literal's first (up to) 8 bytes as a little-endian word, and the mask of its bytes.
    var literalWord: UInt64
    var literalMask: UInt64

    init(shape: FieldShape, role: FieldRole, literal: [UInt8], at start: Int32) {
        switch shape {
        case .token: self.shape = .token
        case .list: self.shape = .list
        case .quoted: self.shape = .quoted
        case .beforeLastColon: self.shape = .beforeLastColon
        case .localTime: self.shape = .localTime
        case .isoTime: self.shape = .isoTime
        case .epoch(let unit):
            self.shape = .epoch
            argument = unit.rawValue
        case .timePiece(let piece):
            self.shape = .timePiece
            argument = piece.rawValue
        }
        self.role = role
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
    func matchesLiteral(_ b: UnsafeRawBufferPointer, at position: Int, end: Int, pool: UnsafeMutablePointer<UInt8>) -> Bool {
        matches(b, at: position, end: end, pool: pool)
    }

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
    /// `"` that is not escaped (an even number of backslashes before it, within the field) and
    /// that `literal` (which starts with that quote) matches from. For the last field, whose
    /// literal is a lone `"`, the quote must be followed by a space or the end of the line,
    /// as for the built-in formats. Nil when there is none.
    @inline(__always)
    func closingQuote(from: Int, literal: TemplateOp, pool: UnsafeMutablePointer<UInt8>) -> Int? {
        var candidate = from
        let end = count
        while true {
            candidate = firstIndex(of: ASCII.quote, from: candidate, to: end)
            if candidate == end { return nil }
            var escapes = candidate
            // In bounds: escapes - 1 >= from >= 0 and escapes - 1 < candidate < end.
            while escapes > from, self[escapes - 1] == ASCII.backslash { escapes -= 1 }
            if (candidate - escapes) & 1 == 0 {
                if literal.isLast && literal.literalCount == 1 {
                    // In bounds: candidate + 1 < end is checked before reading it.
                    if candidate + 1 == end || self[candidate + 1] == ASCII.space { return candidate }
                } else if literal.matches(self, at: candidate, end: end, pool: pool) {
                    return candidate
                }
            }
            candidate += 1
        }
    }

    /// The closing quote of a field whose text starts at `from` and that `next` follows (or the end).
    @inline(__always)
    func closingQuote(from: Int, followedBy next: UInt8) -> Int? {
        var candidate = from
        while true {
            candidate = firstIndex(of: ASCII.quote, from: candidate, to: count)
            if candidate == count { return nil }
            var escapes = candidate
            // In bounds: as in closingQuote(from:literal:pool:).
            while escapes > from, self[escapes - 1] == ASCII.backslash { escapes -= 1 }
            if (candidate - escapes) & 1 == 0, candidate + 1 == count || self[candidate + 1] == next { return candidate }
            candidate += 1
        }
    }
}
