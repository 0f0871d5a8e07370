import LogSurgeParse
import LogSurgeCore

/// An event the generator injects into otherwise normal traffic, with its ground truth.
public struct InjectedEvent: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// Traffic of `country` (every country when nil) multiplied by `factor` at full strength.
        case surge(country: String?, factor: Double)
        /// A share of all responses become 5xx: in each minute exactly that share of its
        /// requests (rounded), as when one backend of ten fails behind a load balancer.
        case errorSpike(share: Double)
        /// All traffic multiplied by `factor` (below 1; 0: an outage, no line at all).
        case drop(factor: Double)
        /// One client of `country` (a crawler, a scanner) sending `rate` requests a minute at
        /// full strength, on top of the normal traffic: not a crowd, never a surge.
        case crawler(country: String, rate: Double)
    }

    public var kind: Kind
    /// First UTC minute of the event.
    public var onset: Int32
    /// Minutes at full strength (after the ramp up, before the ramp down).
    public var duration: Int
    /// Minutes to rise linearly to full strength, and to fall back after. By default, 0.
    public var ramp: Int = 0

    /// Longest duration and ramp accepted: ten years.
    public static let longest = 10 * 366 * 1440

    public init(kind: Kind, onset: Int32, duration: Int, ramp: Int = 0) {
        self.kind = kind
        self.onset = onset
        self.duration = min(max(0, duration), Self.longest)
        self.ramp = min(max(0, ramp), Self.longest)
    }

    /// One past the last minute the event touches.
    public var end: Int32 { Int32(clamping: Int(onset) + 2 * ramp + duration) }

    /// Strength at `minute`: 0 outside, rising to 1 over the ramp, 1 at full strength.
    public func strength(at minute: Int32) -> Double {
        guard minute >= onset, minute < end else { return 0 }
        let elapsed = Int(minute - onset)
        if ramp > 0, elapsed < ramp { return Double(elapsed + 1) / Double(ramp + 1) }
        let remaining = Int(end - minute)
        if ramp > 0, remaining <= ramp { return Double(remaining) / Double(ramp + 1) }
        return 1
    }

    /// Parses `surge:US:10:2016-11-09T02:00Z:120[:30]`, `surge:*:5:…` (every country),
    /// `errors:0.35:2016-11-09T03:20Z:10[:ramp]`, `drop:0:2016-11-09T04:00Z:30[:ramp]` (all
    /// traffic times 0, an outage, up to below 1) or `crawler:US:300:2016-11-09T05:00Z:20[:ramp]`
    /// (one client of US sending 300 requests a minute).
    public init?(parsing text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        // Minutes contain a colon: rejoin "YYYY-MM-DDTHH" and "MMZ".
        func minute(_ at: Int) -> Int32? {
            guard parts.count > at + 1 else { return nil }
            return UTCMinute.parse(parts[at] + ":" + parts[at + 1])
        }
        switch parts.first {
        case "surge":
            guard parts.count >= 6, let factor = Double(parts[2]), factor > 0, factor <= 1e6,
                let onset = minute(3), let duration = Int(parts[5]), duration > 0, duration <= Self.longest
            else { return nil }
            let ramp = parts.count > 6 ? Int(parts[6]) : 0
            guard let ramp, ramp >= 0, ramp <= Self.longest, parts.count <= 7 else { return nil }
            let country = parts[1] == "*" ? nil : parts[1].uppercased()
            guard country.map({ $0.utf8.count == 2 && $0.utf8.allSatisfy { (0x41...0x5A).contains($0) } }) ?? true else { return nil }
            self.init(kind: .surge(country: country, factor: factor), onset: onset, duration: duration, ramp: ramp)
        case "errors":
            guard parts.count >= 5, let share = Double(parts[1]), (0...1).contains(share),
                let onset = minute(2), let duration = Int(parts[4]), duration > 0, duration <= Self.longest
            else { return nil }
            let ramp = parts.count > 5 ? Int(parts[5]) : 0
            guard let ramp, ramp >= 0, ramp <= Self.longest, parts.count <= 6 else { return nil }
            self.init(kind: .errorSpike(share: share), onset: onset, duration: duration, ramp: ramp)
        case "drop":
            guard parts.count >= 5, let factor = Double(parts[1]), factor >= 0, factor < 1,
                let onset = minute(2), let duration = Int(parts[4]), duration > 0, duration <= Self.longest
            else { return nil }
            let ramp = parts.count > 5 ? Int(parts[5]) : 0
            guard let ramp, ramp >= 0, ramp <= Self.longest, parts.count <= 6 else { return nil }
            self.init(kind: .drop(factor: factor), onset: onset, duration: duration, ramp: ramp)
        case "crawler":
            guard parts.count >= 6, let rate = Double(parts[2]), rate > 0, rate <= 1e6,
                let onset = minute(3), let duration = Int(parts[5]), duration > 0, duration <= Self.longest
            else { return nil }
            let ramp = parts.count > 6 ? Int(parts[6]) : 0
            let country = parts[1].uppercased()
            guard let ramp, ramp >= 0, ramp <= Self.longest, parts.count <= 7,
                country.utf8.count == 2, country.utf8.allSatisfy({ (0x41...0x5A).contains($0) })
            else { return nil }
            self.init(kind: .crawler(country: country, rate: rate), onset: onset, duration: duration, ramp: ramp)
        default:
            return nil
        }
    }

    /// The ground-truth label: one JSON object naming the kind and the window.
    public var label: String {
        let window =
            "\"start\":\"\(UTCMinute.format(onset))\",\"end\":\"\(UTCMinute.format(end - 1))\",\"ramp_minutes\":\(ramp),\"full_minutes\":\(duration)"
        switch kind {
        case .surge(let country, let factor):
            return "{\"kind\":\"surge\",\"country\":\(country.map { "\"\($0)\"" } ?? "null"),\"factor\":\(factor),\(window)}"
        case .errorSpike(let share):
            return "{\"kind\":\"error_spike\",\"share\":\(share),\(window)}"
        case .drop(let factor):
            return "{\"kind\":\"drop\",\"factor\":\(factor),\(window)}"
        case .crawler(let country, let rate):
            return "{\"kind\":\"crawler\",\"country\":\"\(country)\",\"rate\":\(rate),\(window)}"
        }
    }
}
