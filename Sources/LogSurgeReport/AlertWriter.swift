import LogSurgeParse
import LogSurgeCore
import LogSurgeDetect

/// Writes alert events as the contract's JSON lines, one per event: `id`, `state` (`open` or
/// `closed`), `kind` (`surge` or `error_spike`), `site`, `country` (the watched country of a
/// surge; null for error spikes and plain series), `start`, `raised_at`, `end` (null while
/// open), `peak_minute` (UTC minutes); a surge or a drop then has `peak_requests`,
/// `baseline_requests` and `ratio`, a surge also `clients` (distinct clients of the watched
/// country in the peak minute) and `top_client_share` (the share of the excess its busiest
/// client sent), null when the input counts no clients; an error spike `peak_error_rate`,
/// `baseline_error_rate` and `peak_requests`; then `step_minutes` when those counts are of
/// steps longer than a minute.
public enum AlertWriter {
    /// The event's fields, in the order the contract documents them.
    public static func object(_ event: AlertEvent) -> JSONObject {
        var object: JSONObject = [
            "id": .int(event.id),
            "state": .string(event.state.rawValue),
            "kind": .string(event.kind.rawValue),
            "site": .string(event.site),
            "country": .optional(event.country) { .string($0.description) },
            "start": .minute(event.start),
            "raised_at": .minute(event.raisedAt),
            "end": .optional(event.end, JSONValue.minute),
            "peak_minute": .minute(event.peakMinute),
        ]
        switch event.kind {
        case .surge, .drop:
            object.append("peak_requests", .int(event.peakRequests))
            object.append("baseline_requests", .optional(event.baselineRequests, JSONValue.number))
            object.append("ratio", .optional(event.ratio, JSONValue.number))
            if event.kind == .surge {
                object.append("clients", .optional(event.clients, JSONValue.int))
                object.append("top_client_share", .optional(event.topClientShare, JSONValue.number))
            }
        case .errorSpike:
            object.append("peak_error_rate", .optional(event.peakErrorRate, JSONValue.number))
            object.append("baseline_error_rate", .optional(event.baselineErrorRate, JSONValue.number))
            object.append("peak_requests", .int(event.peakRequests))
        }
        // Counts of longer steps than a minute say so (a quiet site checked hourly, a series).
        if event.stepMinutes != 1 { object.append("step_minutes", .int(event.stepMinutes)) }
        return object
    }

    /// The event's line, with its newline.
    public static func line(_ event: AlertEvent) -> String {
        object(event).encoded + "\n"
    }
}
