import LogSurgeParse
import LogSurgeCore
import LogSurgeDetect

/// Writes alert events as the contract's JSON lines, one per event.
public enum AlertWriter {
    public static func line(_ event: AlertEvent) -> String {
        func minute(_ value: Int32?) -> String { value.map { "\"\(UTCMinute.format($0))\"" } ?? "null" }
        func number(_ value: Double?) -> String {
            guard let value else { return "null" }
            return value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
        }
        var fields = [
            "\"id\":\(event.id)",
            "\"state\":\"\(event.state.rawValue)\"",
            "\"kind\":\"\(event.kind.rawValue)\"",
            "\"site\":\(Escaping.json(event.site))",
            "\"country\":" + (event.country.map { "\"\($0)\"" } ?? "null"),
            "\"start\":\(minute(event.start))",
            "\"raised_at\":\(minute(event.raisedAt))",
            "\"end\":\(minute(event.end))",
            "\"peak_minute\":\(minute(event.peakMinute))",
        ]
        switch event.kind {
        case .surge:
            fields += [
                "\"peak_requests\":\(event.peakRequests)",
                "\"baseline_requests\":\(number(event.baselineRequests))",
                "\"ratio\":\(number(event.ratio))",
            ]
        case .errorSpike:
            fields += [
                "\"peak_error_rate\":\(number(event.peakErrorRate))",
                "\"baseline_error_rate\":\(number(event.baselineErrorRate))",
                "\"peak_requests\":\(event.peakRequests)",
            ]
        }
        return "{" + fields.joined(separator: ",") + "}\n"
    }
}
