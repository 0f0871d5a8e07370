import LogSurgeParse
import LogSurgeCore

/// The access-log line parser on every line of the input, under every format.
///
/// The input is split at `"\n"` (the whole input is also parsed as one line); each line is
/// copied into an allocation of exactly its size, so that the address sanitizer sees any read
/// past its end, and parsed under each format by:
/// - a fresh parser, and `ReferenceParser`, a plain byte-by-byte reading of the grammar the
///   parser documents (no vector scans, no timestamp cache, its own calendar): same result;
/// - a fresh parser and one warm from the lines before it (its timestamp cache): same result;
/// - a parser with `wantsPath` off: the same result without a path;
/// - the line with a `"\r"` appended: the same result (one trailing carriage return is ignored).
///
/// A parsed line has its ranges inside the line, a non-empty client of printable ASCII without
/// `"`, a host exactly in the vhost formats, a non-empty path without spaces, a status of at
/// most 999, and a minute that formats and parses back to itself. `.empty` and `.tooLong`
/// are given exactly when the line is blank or longer than `maxLineLength`. Every line that
/// parses as combined (vhost_combined) parses as common (vhost_common) with the same fields.
/// Format detection runs over the whole input. Then `FormatFuzz` checks the other formats
/// (compiled format strings, JSON, Caddy, ALB, W3C) and the forwarded chains on the same lines.
public enum ParserFuzz {
    public static func check(_ data: UnsafeRawBufferPointer) -> [String] {
        var problems: [String] = []
        var warm = LogFormat.allCases.map { AccessLogParser(format: $0) }
        var start = 0
        while start < data.count {
            var end = start
            while end < data.count && data[end] != 0x0A { end += 1 }
            check(line: UnsafeRawBufferPointer(rebasing: data[start..<end]), warm: &warm, problems: &problems)
            start = end + 1
        }
        var whole = LogFormat.allCases.map { AccessLogParser(format: $0) }
        check(line: data, warm: &whole, problems: &problems)
        // The other formats, over the same lines (FormatFuzz).
        var lines: [UnsafeRawBufferPointer] = []
        var lineStart = 0
        while lineStart < data.count {
            let lineEnd = data[lineStart...].firstIndex(of: 0x0A) ?? data.count
            lines.append(UnsafeRawBufferPointer(rebasing: data[lineStart..<lineEnd]))
            lineStart = lineEnd + 1
        }
        FormatFuzz.check(lines: lines, problems: &problems)
        if let format = AccessLogParser.detectFormat(chunk: data), data.firstIndex(of: 0x0A) == nil {
            // A chunk without "\n" is one line: the format detected must parse it.
            var parser = AccessLogParser(format: format)
            if case .malformed(let reason) = parser.parse(data) {
                problems.append("detected \(format.rawValue) for a single line it calls \(reason.rawValue)")
            }
        }
        return problems
    }

    /// Checks one line (any bytes, no terminator expected) under every format.
    private static func check(line source: UnsafeRawBufferPointer, warm: inout [AccessLogParser], problems: inout [String]) {
        withExactCopies(of: source) { bytes, withCR in check(line: bytes, withCR: withCR, warm: &warm, problems: &problems) }
    }

    private static func check(
        line bytes: UnsafeRawBufferPointer, withCR: UnsafeRawBufferPointer, warm: inout [AccessLogParser],
        problems: inout [String]
    ) {
        let count = bytes.count
        let text = escaped(bytes)

        var results: [LogFormat: ParseResult] = [:]
        for (index, format) in LogFormat.allCases.enumerated() {
            var fresh = AccessLogParser(format: format)
            let result = fresh.parse(bytes)
            results[format] = result
            let name = format.rawValue
            for problem in validate(result, bytes, format) {
                problems.append("\(name): \(problem): \(text)")
            }
            let reference = ReferenceParser(format: format).parse(Array(bytes))
            if reference != result {
                problems.append("\(name): parsed \(result), the plain reading of the grammar \(reference): \(text)")
            }
            let warmResult = warm[index].parse(bytes)
            if warmResult != result {
                problems.append("\(name): a warm parser gave \(warmResult), a fresh one \(result): \(text)")
            }
            var pathless = AccessLogParser(format: format)
            pathless.wantsPath = false
            var expected = result
            if case .parsed(var fields) = expected {
                fields.path = nil
                expected = .parsed(fields)
            }
            let pathlessResult = pathless.parse(bytes)
            if pathlessResult != expected {
                problems.append("\(name): without paths \(pathlessResult), expected \(expected): \(text)")
            }
            if count == 0 || bytes[count - 1] != 0x0D {
                var again = AccessLogParser(format: format)
                let crResult = again.parse(withCR)
                if crResult != result {
                    problems.append("\(name): with a trailing CR \(crResult), without \(result): \(text)")
                }
            }
        }
        for (specific, general) in [(LogFormat.combined, LogFormat.common), (.vhostCombined, .vhostCommon)] {
            // The same fields, whether or not the trailing quoted fields were cut.
            var untruncated = results[specific]
            if case .parsed(var fields) = untruncated {
                fields.truncated = false
                untruncated = .parsed(fields)
            }
            if case .parsed = results[specific], untruncated != results[general] {
                problems.append(
                    "\(specific.rawValue) parsed \(results[specific]!) but \(general.rawValue) gave \(results[general]!): \(text)")
            }
        }
    }

    /// What is wrong with `result` for `line` under `format` (empty when nothing is).
    private static func validate(_ result: ParseResult, _ line: UnsafeRawBufferPointer, _ format: LogFormat) -> [String] {
        var problems: [String] = []
        var length = line.count
        if length > 0 && line[length - 1] == 0x0D { length -= 1 }
        let blank = length == 0 || (length <= AccessLogParser.maxLineLength && line[..<length].allSatisfy { $0 == 0x20 })
        let tooLong = length > AccessLogParser.maxLineLength
        switch result {
        case .malformed(let reason):
            if (reason == .empty) != blank { problems.append("reason \(reason.rawValue) for a line that is\(blank ? "" : " not") blank") }
            if (reason == .tooLong) != tooLong { problems.append("reason \(reason.rawValue), line length \(length)") }
        case .directive:
            problems.append("a directive in a built-in format")
        case .parsed(let fields):
            if blank || tooLong { problems.append("a blank or overlong line parsed") }
            func inside(_ range: Range<Int>) -> Bool { range.lowerBound >= 0 && range.upperBound <= length }
            guard let client = fields.client else {
                problems.append("no client in a built-in format")
                return problems
            }
            if client.isEmpty || !inside(client) {
                problems.append("client range \(client) in a line of \(length) bytes")
            } else if !line[client].allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != 0x22 }) {
                problems.append("client holds a space, a quote or a byte outside printable ASCII")
            }
            let vhost = format == .vhostCombined || format == .vhostCommon
            if let host = fields.host {
                if !vhost || host.isEmpty || !inside(host) { problems.append("host range \(host) in a line of \(length) bytes") }
            } else if vhost {
                problems.append("no host in a vhost format")
            }
            if let path = fields.path {
                if path.isEmpty || !inside(path) {
                    problems.append("path range \(path) in a line of \(length) bytes")
                } else if line[path].contains(0x20) {
                    problems.append("path holds a space")
                }
            }
            if fields.status > 999 { problems.append("status \(fields.status)") }
            let minute = UTCMinute.format(fields.minute)
            if UTCMinute.parse(minute) != fields.minute {
                problems.append("minute \(fields.minute) formats as \(minute), which does not parse back")
            }
        }
        return problems
    }
}
