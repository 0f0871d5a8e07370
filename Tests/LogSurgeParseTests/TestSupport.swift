import Foundation
import LogSurgeTestSupport
import LogSurgeParse
import LogSurgeCore

/// A parsed line with its ranges turned into text, so tests can compare whole outcomes.
struct Fields: Equatable, CustomStringConvertible {
    var minute: String
    var status: UInt16
    var bytes: UInt64
    var client: String?
    var host: String? = nil
    var path: String? = nil
    var forwarded: String? = nil
    var country: String? = nil
    var truncated = false
    /// The time gave no offset from UTC.
    var zoneless = false

    var description: String {
        "\(minute) \(status) \(bytes) client=\(client ?? "nil") host=\(host ?? "nil") path=\(path ?? "nil")"
            + (forwarded.map { " forwarded=\($0)" } ?? "") + (country.map { " country=\($0)" } ?? "") + (truncated ? " truncated" : "")
    }
}

enum Outcome: Equatable, CustomStringConvertible {
    case parsed(Fields)
    case malformed(MalformedReason)
    case directive

    var description: String {
        switch self {
        case .parsed(let fields): return "parsed(\(fields))"
        case .malformed(let reason): return "malformed(\(reason.rawValue))"
        case .directive: return "directive"
        }
    }

    var fields: Fields? {
        if case .parsed(let fields) = self { return fields }
        return nil
    }
}

/// Parses `bytes` with `parser`, checking that every returned range lies inside the line.
func outcome<Parser: LineParsing>(_ bytes: [UInt8], with parser: inout Parser) -> Outcome {
    bytes.withUnsafeBytes { raw in
        switch parser.parse(raw) {
        case .malformed(let reason):
            return .malformed(reason)
        case .directive:
            return .directive
        case .parsed(let line):
            let ranges = [line.client, line.host, line.path, line.forwarded, line.countryHint].compactMap { $0 }
            precondition(
                ranges.allSatisfy { $0.lowerBound >= 0 && $0.upperBound <= raw.count },
                "range outside the line")
            func text(_ range: Range<Int>) -> String { String(decoding: raw[range], as: UTF8.self) }
            return .parsed(
                Fields(
                    minute: UTCMinute.format(line.minute), status: line.status, bytes: line.bytes,
                    client: line.client.map(text), host: line.host.map(text), path: line.path.map(text),
                    forwarded: line.forwarded.map(text), country: line.countryHint.map(text), truncated: line.truncated,
                    zoneless: line.timeWithoutZone))
        }
    }
}

/// Parses one line with a fresh parser.
func outcome(_ line: String, _ format: LogFormat) -> Outcome {
    var parser = AccessLogParser(format: format)
    return outcome(Array(line.utf8), with: &parser)
}

/// Parses one line with a fresh parser of `format` (header roles bound as given).
func outcome(_ line: String, _ format: LineFormat, headers: HeaderRoles = HeaderRoles()) -> Outcome {
    var parser = format.parser(headers: headers)
    return outcome(Array(line.utf8), with: &parser)
}

/// Parses lines in order with one parser of `format` (W3C directives change it as they come).
func outcomes(_ lines: [String], _ format: LineFormat, headers: HeaderRoles = HeaderRoles()) -> [Outcome] {
    var parser = format.parser(headers: headers)
    return lines.map { outcome(Array($0.utf8), with: &parser) }
}

extension LineParser: LineParsing {}

/// A common-format line with the given pieces; the defaults form a valid line.
func commonLine(
    client: String = "127.0.0.1", user: String = "-", time: String = "10/Oct/2000:13:55:36 -0700",
    request: String = "GET /apache_pb.gif HTTP/1.0", status: String = "200", size: String = "2326"
) -> String {
    "\(client) - \(user) [\(time)] \"\(request)\" \(status) \(size)"
}

/// A combined-format line: `commonLine` plus quoted referer and user agent.
func combinedLine(
    client: String = "127.0.0.1", user: String = "-", time: String = "10/Oct/2000:13:55:36 -0700",
    request: String = "GET /apache_pb.gif HTTP/1.0", status: String = "200", size: String = "2326",
    referer: String = "http://www.example.com/start.html", agent: String = "Mozilla/4.08 [en] (Win98; I ;Nav)"
) -> String {
    commonLine(client: client, user: user, time: time, request: request, status: status, size: size)
        + " \"\(referer)\" \"\(agent)\""
}

/// The UTC minute of a local time at a fixed offset, computed independently with Foundation.
func foundationMinute(
    year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int = 0, offsetMinutes: Int
) -> String? {
    var calendar = Calendar(identifier: .gregorian)
    guard let zone = TimeZone(secondsFromGMT: offsetMinutes * 60) else { return nil }
    calendar.timeZone = zone
    var parts = DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
    parts.calendar = calendar
    guard parts.isValidDate(in: calendar), let date = calendar.date(from: parts) else { return nil }
    return foundationFormat(date)
}

/// `YYYY-MM-DDTHH:MMZ` of a date, by Foundation.
func foundationFormat(_ date: Date) -> String {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.calendar = Calendar(identifier: .gregorian)
    formatter.timeZone = TimeZone(identifier: "UTC")
    formatter.dateFormat = "yyyy-MM-dd'T'HH:mm'Z'"
    return formatter.string(from: date)
}
