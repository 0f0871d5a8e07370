import LogSurgeInput
import LogSurgeParse
import LogSurgeCore
import LogSurge

/// Writes the run's accounting as one JSON object (`--summary`).
///
/// Always present: `files`, `bytes_read`, `lines`, `parsed`, `malformed` (every reason of the
/// fixed set, zeros included), `first_minute`, `last_minute`, `alerts`, `input_errors`;
/// `clients` (requests by where their client came from: `connecting`, `forwarded`, `none`;
/// `country_header`: countries taken from `--country-from`; `behind_proxy`: connecting
/// addresses that are private or a CDN's), `truncated_lines` (counted though cut inside their
/// last quoted field), `directive_lines` (W3C `#` lines, not in `lines`), `warnings`
/// (`RunWarning`: `code` and `message`).
/// Invariants a reader may check: `lines == parsed + sum(malformed)` and `requests == parsed`,
/// where `requests` is the sum over all buckets; `invariants` states both as booleans.
public enum SummaryWriter {
    public static func json(for analysis: Analysis) -> String {
        let alerts = analysis.alerts.filter { $0.state == .open }.count
        let accounting = analysis.accounting
        let range = analysis.buckets.minuteRange
        let requests = analysis.buckets.requestsBySite().values.reduce(0) { $0 + $1.requests }
        let read = analysis.inputs.filter { $0.stats != nil }
        let malformed = MalformedReason.allCases.map { "\"\($0.rawValue)\":\(accounting.malformed[$0] ?? 0)" }
        let errors = analysis.inputErrors.map { error in
            "{\"path\":\(Escaping.json(error.path)),\"offset\":\(error.offset.map(String.init) ?? "null"),\"message\":\(Escaping.json(error.message))}"
        }
        let inputs = analysis.inputs.map { input in
            var fields = ["\"path\":\(Escaping.json(input.name))"]
            if let stats = input.stats {
                fields.append("\"compression\":\"\(stats.compression == .gzip ? "gzip" : "none")\"")
                if let inflater = stats.inflater { fields.append("\"inflate\":\"\(inflater.rawValue)\"") }
                fields.append("\"bytes_read\":\(stats.bytesRead)")
                fields.append("\"bytes_decompressed\":\(stats.decompressedBytes)")
            }
            fields.append("\"format\":" + (input.format.map { Escaping.json($0.name) } ?? "null"))
            fields.append("\"format_choice\":\"\(input.formatChoice.rawValue)\"")
            fields.append("\"lines\":\(input.lines)")
            fields.append("\"error\":" + (input.error.map { Escaping.json($0.message) } ?? "null"))
            return "{" + fields.joined(separator: ",") + "}"
        }
        let fields: [String] = [
            "\"files\":\(read.count)",
            "\"bytes_read\":\(read.reduce(Int64(0)) { $0 + ($1.stats?.bytesRead ?? 0) })",
            "\"bytes_decompressed\":\(read.reduce(Int64(0)) { $0 + ($1.stats?.decompressedBytes ?? 0) })",
            "\"lines\":\(accounting.lines)",
            "\"parsed\":\(accounting.parsed)",
            "\"malformed\":{" + malformed.joined(separator: ",") + "}",
            "\"requests\":\(requests)",
            "\"buckets\":\(analysis.buckets.count)",
            "\"first_minute\":" + (range.map { "\"\(UTCMinute.format($0.lowerBound))\"" } ?? "null"),
            "\"last_minute\":" + (range.map { "\"\(UTCMinute.format($0.upperBound))\"" } ?? "null"),
            "\"alerts\":\(alerts)",
            "\"late_lines\":\(analysis.lateLines)",
            "\"geoip_lookup_errors\":\(accounting.geoLookupErrors)",
            "\"clients\":{\"connecting\":\(accounting.clients[.connecting]),\"forwarded\":\(accounting.clients[.forwarded]),"
                + "\"country_header\":\(accounting.clients.countryHeader),\"none\":\(accounting.clients[.none]),"
                + "\"behind_proxy\":\(accounting.clients.behindProxy),\"still_behind_proxy\":\(accounting.clients.stillBehindProxy)}",
            "\"truncated_lines\":\(accounting.clients.truncated)",
            "\"directive_lines\":\(accounting.directives)",
            "\"warnings\":["
                + analysis.warnings.map { "{\"code\":\"\($0.code.rawValue)\",\"message\":\(Escaping.json($0.message))}" }.joined(
                    separator: ",") + "]",
            "\"threads\":\(analysis.threads)",
            "\"inflate\":\"\(analysis.inflater.rawValue)\"",
            "\"invariants\":{\"lines_equal_parsed_plus_malformed\":\(accounting.isBalanced),\"bucket_requests_equal_parsed\":\(requests == accounting.parsed)}",
            "\"inputs\":[" + inputs.joined(separator: ",") + "]",
            "\"input_errors\":[" + errors.joined(separator: ",") + "]",
        ]
        return "{" + fields.joined(separator: ",") + "}\n"
    }
}
