/// The step each site of a finished run is checked at: a minute, or, for a site with too few
/// requests for a minute to hold evidence, 5, 15 or 60 minutes.
///
/// A site is checked at the shortest of those steps that holds `requestsPerStep` of its
/// requests on average, from its first minute to the end of the run (60 minutes when none
/// does), if that is a day or more: a site that sends 2 requests a minute is checked every 5 minutes, one that sends 5 an
/// hour every hour. Its steps are whole multiples of their length in UTC (5-minute steps start
/// at :00, :05 …), so that every site of a step length shares them.
///
/// Steps that mostly hold nothing teach the baselines little and cost as much as busy ones:
/// a year of 50 sites at 5 requests an hour each was 26 M steps of the sites, where 0.4 M hours
/// say as much.
package struct SiteSteps: Sendable {
    /// The step lengths, in minutes, shortest first.
    package static let lengths = [1, 5, 15, 60]
    /// Requests a step should hold, on average: fewer, and the site is checked at a longer step.
    package static let requestsPerStep = 4.0
    /// Minutes a site must span (from its first to the input's last) to be checked at a longer step.
    package static let shortestSpan = 1440

    private let requests: [String: Int]
    private let lastMinute: Int32

    /// The steps of sites with `requests` over `span`; nil when every site is checked a minute at
    /// a time wherever it starts (each sent `requestsPerStep` a minute over the whole span).
    package init?(requests: [(site: String, requests: Int)], span: ClosedRange<Int32>) {
        let minutes = Int(span.upperBound) - Int(span.lowerBound) + 1
        guard requests.contains(where: { Self.stepMinutes(requests: $0.requests, minutes: minutes) > 1 }) else { return nil }
        self.requests = Dictionary(requests.map { ($0.site, $0.requests) }, uniquingKeysWith: +)
        lastMinute = span.upperBound
    }

    /// The step of `site`, first seen at `firstMinute`.
    package func stepMinutes(of site: String, firstMinute: Int32) -> Int {
        Self.stepMinutes(requests: requests[site] ?? 0, minutes: Int(lastMinute) - Int(firstMinute) + 1)
    }

    /// The step of a site with `requests` over `minutes`: a minute for a span under a day,
    /// whatever its rate (its steps cost nothing, and a longer one would be mostly cut short by
    /// the input's end, which leaves a step undecided).
    package static func stepMinutes(requests: Int, minutes: Int) -> Int {
        guard minutes >= shortestSpan else { return 1 }
        let perMinute = Double(requests) / Double(max(1, minutes))
        return lengths.first { perMinute * Double($0) >= requestsPerStep } ?? lengths.last!
    }

    /// The first minute of the step of `length` minutes that holds `minute`.
    package static func stepStart(_ minute: Int32, length: Int) -> Int32 {
        let minute = Int(minute)
        return Int32(minute - ((minute % length) + length) % length)
    }
}
