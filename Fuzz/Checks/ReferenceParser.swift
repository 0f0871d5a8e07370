import LogSurgeParse

/// The access-log grammar that `AccessLogParser` documents, read the plain way: byte by byte,
/// no vector scans, no word-at-a-time numbers, no timestamp cache, and its own calendar
/// arithmetic. The parser fuzz target checks that both give the same result for every line.
///
/// `[host[:port] ]client ident user [dd/Mon/yyyy:HH:MM:SS ±hhmm] "request" status size`, then
/// for combined formats `"referer" "agent"`; fields separated by single spaces; a user may be
/// quoted; quoted fields end at an unescaped `"` followed by a space or the end (a referer or
/// agent that never ends is cut by the line's end: the line counts, truncated); whatever
/// follows the last field is ignored; a line starting with `{` is JSON, not this format. When
/// several fields are wrong, the first one names the reason.
struct ReferenceParser {
    let format: LogFormat

    func parse(_ line: [UInt8]) -> ParseResult {
        var b = line
        if b.last == 0x0D { b.removeLast() }
        if b.isEmpty { return .malformed(.empty) }
        if b.count > AccessLogParser.maxLineLength { return .malformed(.tooLong) }
        let end = b.count
        let blank = b.allSatisfy { $0 == Byte.space }
        // A JSON object is not a line of these formats.
        if b[0] == 0x7B { return .malformed(.badFormat) }
        let hasHost = format == .vhostCombined || format == .vhostCommon

        // A comma ends a client or host: `a,b` is a forwarded chain, not an address.
        func isTokenByte(_ byte: UInt8) -> Bool { byte > Byte.space && byte < 0x7F && byte != Byte.quote && byte != 0x2C }
        func tokenEnd(_ from: Int) -> Int {
            var i = from
            while i < end && isTokenByte(b[i]) { i += 1 }
            return i
        }
        func nextSpace(_ from: Int) -> Int {
            var i = from
            while i < end && b[i] != Byte.space { i += 1 }
            return i
        }
        /// The closing quote of a quoted field whose text starts at `from`.
        func closingQuote(_ from: Int) -> Int? {
            for candidate in from..<max(from, end) where b[candidate] == Byte.quote {
                var backslashes = 0
                while candidate - backslashes - 1 >= from && b[candidate - backslashes - 1] == Byte.backslash { backslashes += 1 }
                if backslashes % 2 == 0 && (candidate + 1 == end || b[candidate + 1] == Byte.space) { return candidate }
            }
            return nil
        }

        var i = 0
        var host: Range<Int>? = nil
        if hasHost {
            let hostEnd = tokenEnd(0)
            if hostEnd < end && b[hostEnd] != Byte.space { return .malformed(.badFormat) }
            if hostEnd == 0 { return .malformed(blank ? .empty : .badFormat) }
            guard hostEnd < end, let name = Self.hostName(b, 0..<hostEnd) else { return .malformed(.badFormat) }
            host = name
            i = hostEnd + 1
        }

        let clientStart = i
        let clientEnd = tokenEnd(i)
        if clientEnd < end && b[clientEnd] != Byte.space { return .malformed(.badClient) }
        if clientEnd == clientStart { return .malformed(!hasHost && blank ? .empty : .badClient) }
        guard clientEnd < end else { return .malformed(.badFormat) }
        i = clientEnd + 1

        let identEnd = nextSpace(i)
        guard identEnd > i, identEnd < end else { return .malformed(.badFormat) }
        let identIsDash = identEnd == i + 1 && b[i] == Byte.dash
        i = identEnd + 1

        guard i < end else { return .malformed(.badFormat) }
        var userEnd: Int
        if b[i] == Byte.quote {
            guard let closing = closingQuote(i + 1) else { return .malformed(.badFormat) }
            userEnd = closing + 1
        } else {
            userEnd = nextSpace(i)
        }
        func time(afterSpace space: Int) -> Int32? {
            guard space + 1 < end, b[space + 1] == Byte.openBracket, end - (space + 2) >= 27 else { return nil }
            return Self.minute(Array(b[(space + 2)..<(space + 29)]))
        }
        var minute = time(afterSpace: userEnd)
        // After a `-` ident, an unquoted user may hold spaces: it runs to the first ` [` that
        // opens a valid time followed by `] "`.
        if minute == nil, identIsDash, b[i] != Byte.quote {
            for space in userEnd..<end where b[space] == Byte.space && space + 30 < end {
                if let found = time(afterSpace: space), b[space + 29] == Byte.space, b[space + 30] == Byte.quote {
                    userEnd = space
                    minute = found
                    break
                }
            }
        }
        guard userEnd > i, b[i] != Byte.space, userEnd + 1 < end, b[userEnd + 1] == Byte.openBracket else { return .malformed(.badFormat) }

        let stampStart = userEnd + 2
        guard let minute else { return .malformed(.badTimestamp) }
        i = stampStart + 27
        guard i < end, b[i] == Byte.space else { return .malformed(.badFormat) }
        i += 1

        guard i < end, b[i] == Byte.quote, let requestEnd = closingQuote(i + 1) else { return .malformed(.badRequest) }
        let path = Self.requestTarget(b, (i + 1)..<requestEnd)
        i = requestEnd + 2
        guard i < end else { return .malformed(.badFormat) }

        guard end - i >= 3, end - i == 3 || b[i + 3] == Byte.space,
            b[i..<(i + 3)].allSatisfy({ $0 >= Byte.zero && $0 <= Byte.nine })
        else { return .malformed(.badStatus) }
        let status = b[i..<(i + 3)].reduce(UInt16(0)) { $0 * 10 + UInt16($1 - Byte.zero) }
        i += 4
        guard i < end else { return .malformed(.badFormat) }

        let sizeEnd = nextSpace(i)
        var size: UInt64 = 0
        if !(sizeEnd == i + 1 && b[i] == Byte.dash) {
            guard sizeEnd > i else { return .malformed(.badSize) }
            for byte in b[i..<sizeEnd] {
                guard byte >= Byte.zero && byte <= Byte.nine else { return .malformed(.badSize) }
                let (times10, overflow) = size.multipliedReportingOverflow(by: 10)
                let (sum, carry) = times10.addingReportingOverflow(UInt64(byte - Byte.zero))
                guard !overflow && !carry else { return .malformed(.badSize) }
                size = sum
            }
        }
        i = sizeEnd

        var truncated = false
        if format == .combined || format == .vhostCombined {
            for _ in 0..<2 {
                guard i + 1 < end, b[i] == Byte.space, b[i + 1] == Byte.quote else { return .malformed(.badFormat) }
                // A field the line's end cuts (never closed) still counts the line.
                guard let fieldEnd = closingQuote(i + 2) else {
                    truncated = true
                    break
                }
                i = fieldEnd + 1
            }
        }
        return .parsed(
            ParsedLine(
                minute: minute, status: status, bytes: size, client: clientStart..<clientEnd, host: host, path: path,
                truncated: truncated))
    }

    /// A virtual-host token without a `:digits` port; the whole token when the part before the
    /// colon would end in another colon (an IPv6 literal); nil when the host would be empty.
    static func hostName(_ b: [UInt8], _ token: Range<Int>) -> Range<Int>? {
        // `a, b` is an address chain, not a host.
        if b[token].last == 0x2C { return nil }
        guard let colon = b[token].lastIndex(of: Byte.colon) else { return token }
        let port = b[(colon + 1)..<token.upperBound]
        guard !port.isEmpty, port.allSatisfy({ $0 >= Byte.zero && $0 <= Byte.nine }) else { return token }
        if colon == token.lowerBound { return nil }
        return b[colon - 1] == Byte.colon ? token : token.lowerBound..<colon
    }

    /// The target of `METHOD TARGET` or `METHOD TARGET PROTOCOL` (method: letters, `-`, `_`).
    static func requestTarget(_ b: [UInt8], _ request: Range<Int>) -> Range<Int>? {
        let words = b[request].split(separator: Byte.space, omittingEmptySubsequences: false)
        guard words.count == 2 || words.count == 3, words.allSatisfy({ !$0.isEmpty }),
            words[0].allSatisfy({ ($0 | 0x20) >= 0x61 && ($0 | 0x20) <= 0x7A || $0 == Byte.dash || $0 == 0x5F })
        else { return nil }
        return words[1].startIndex..<words[1].endIndex
    }

    /// The UTC minute of `dd/Mon/yyyy:HH:MM:SS ±hhmm]`, or nil when it is not a real time.
    static func minute(_ t: [UInt8]) -> Int32? {
        func number(_ range: Range<Int>) -> Int? {
            guard t[range].allSatisfy({ $0 >= Byte.zero && $0 <= Byte.nine }) else { return nil }
            return t[range].reduce(0) { $0 * 10 + Int($1 - Byte.zero) }
        }
        let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
        let name = String(decoding: t[3..<6], as: UTF8.self).lowercased()
        guard t[2] == Byte.slash, t[6] == Byte.slash, t[11] == Byte.colon, t[14] == Byte.colon, t[17] == Byte.colon,
            t[20] == Byte.space, t[26] == 0x5D, t[21] == 0x2B || t[21] == Byte.dash,
            t[3..<6].allSatisfy({ $0 < 0x80 }), let month = months.firstIndex(of: name).map({ $0 + 1 }),
            let day = number(0..<2), let year = number(7..<11), let hour = number(12..<14), let minute = number(15..<17),
            let second = number(18..<20), let offsetHours = number(22..<24), let offsetMinutes = number(24..<26)
        else { return nil }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let monthDays = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        let offset = offsetHours * 60 + offsetMinutes
        guard day >= 1, day <= monthDays[month - 1], hour <= 23, minute <= 59, second <= 60,
            offsetMinutes <= 59, offset <= 14 * 60
        else { return nil }
        // Days from 0000-01-01 (a leap year) to the date, then from 1970-01-01.
        func daysBefore(year: Int) -> Int { 365 * year + (year + 3) / 4 - (year + 99) / 100 + (year + 399) / 400 }
        let dayOfYear = monthDays[..<(month - 1)].reduce(0, +) + day - 1
        let days = daysBefore(year: year) + dayOfYear - daysBefore(year: 1970)
        let local = days * 1440 + hour * 60 + minute
        return Int32(exactly: t[21] == 0x2B ? local - offset : local + offset)
    }
}

/// The bytes the reference parser looks for.
private enum Byte {
    static let space: UInt8 = 0x20
    static let quote: UInt8 = 0x22
    static let dash: UInt8 = 0x2D
    static let slash: UInt8 = 0x2F
    static let zero: UInt8 = 0x30
    static let nine: UInt8 = 0x39
    static let colon: UInt8 = 0x3A
    static let openBracket: UInt8 = 0x5B
    static let backslash: UInt8 = 0x5C
}
