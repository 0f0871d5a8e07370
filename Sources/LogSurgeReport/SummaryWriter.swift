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
        object(for: analysis).encoded + "\n"
    }

    /// `{"sent": N, "retried": N, "failed": N}`.
    public static func deliveries(_ counts: DeliveryCounts) -> JSONObject {
        ["sent": .int(counts.sent), "retried": .int(counts.retried), "failed": .int(counts.failed)]
    }

    /// The summary's fields, in the order the contract documents them.
    public static func object(for analysis: Analysis) -> JSONObject {
        let accounting = analysis.accounting
        let range = analysis.buckets.minuteRange
        let requests = analysis.buckets.requestsBySite().values.reduce(0) { $0 + $1.requests }
        let read = analysis.inputs.filter { $0.stats != nil }
        var malformed = JSONObject()
        for reason in MalformedReason.allCases { malformed.append(reason.rawValue, .int(accounting.malformed[reason] ?? 0)) }
        let clients: JSONObject = [
            "connecting": .int(accounting.clients[.connecting]),
            "forwarded": .int(accounting.clients[.forwarded]),
            "country_header": .int(accounting.clients.countryHeader),
            "none": .int(accounting.clients[.none]),
            "behind_proxy": .int(accounting.clients.behindProxy),
            "still_behind_proxy": .int(accounting.clients.stillBehindProxy),
        ]
        let warnings = analysis.warnings.map { warning -> JSONValue in
            .object(["code": .string(warning.code.rawValue), "message": .string(warning.message)])
        }
        let inputs = analysis.inputs.map { input -> JSONValue in
            var fields: JSONObject = ["path": .string(input.name)]
            if let stats = input.stats {
                fields.append("compression", .string(stats.compression == .gzip ? "gzip" : "none"))
                if let inflater = stats.inflater { fields.append("inflate", .string(inflater.rawValue)) }
                fields.append("bytes_read", .int(stats.bytesRead))
                fields.append("bytes_decompressed", .int(stats.decompressedBytes))
            }
            fields.append("format", .optional(input.format) { .string($0.name) })
            fields.append("format_choice", .string(input.formatChoice.rawValue))
            fields.append("lines", .int(input.lines))
            fields.append("error", .optional(input.error) { .string($0.message) })
            return .object(fields)
        }
        let errors = analysis.inputErrors.map { error -> JSONValue in
            .object(["path": .string(error.path), "offset": .optional(error.offset) { .int($0) }, "message": .string(error.message)])
        }
        return [
            "files": .int(read.count),
            "bytes_read": .int(read.reduce(Int64(0)) { $0 + ($1.stats?.bytesRead ?? 0) }),
            "bytes_decompressed": .int(read.reduce(Int64(0)) { $0 + ($1.stats?.decompressedBytes ?? 0) }),
            "lines": .int(accounting.lines),
            "parsed": .int(accounting.parsed),
            "malformed": .object(malformed),
            "requests": .int(requests),
            "buckets": .int(analysis.buckets.count),
            "first_minute": .optional(range) { .minute($0.lowerBound) },
            "last_minute": .optional(range) { .minute($0.upperBound) },
            "alerts": .int(analysis.alerts.filter { $0.state == .open }.count),
            "late_lines": .int(analysis.lateLines),
            "sites_by_step": .array(
                analysis.sitesByStep.map { .object(["step_minutes": .int($0.stepMinutes), "sites": .int($0.sites)]) }),
            "deliveries": .object(Self.deliveries(analysis.deliveries ?? DeliveryCounts())),
            "geoip_lookup_errors": .int(accounting.geoLookupErrors),
            "clients": .object(clients),
            "truncated_lines": .int(accounting.clients.truncated),
            "directive_lines": .int(accounting.directives),
            "warnings": .array(warnings),
            "threads": .int(analysis.threads),
            "inflate": .string(analysis.inflater.rawValue),
            "invariants": .object([
                "lines_equal_parsed_plus_malformed": .bool(accounting.isBalanced),
                "bucket_requests_equal_parsed": .bool(requests == accounting.parsed),
            ]),
            "inputs": .array(inputs),
            "input_errors": .array(errors),
        ]
    }
}
