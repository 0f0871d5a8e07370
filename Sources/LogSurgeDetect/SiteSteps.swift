/// The step each site of a finished run is checked at: a minute, or, for a site with too few
/// requests for a minute to hold evidence, 5, 15 or 60 minutes.
///
/// A site is checked at the shortest of those steps that holds `requestsPerStep` of its
/// requests on average over the hours it had requests in (60 minutes when none does), if those
/// are a day or more: a site that sends 2 requests a minute is checked every 5 minutes, one
/// that sends 5 an hour every hour. (Over its hours with requests, not its span: one line of a
/// bogus date, a year from the rest, would make any site quiet.) Its steps are whole multiples
/// of their length in UTC (5-minute steps start at :00, :05 …), so that every site of a step
/// length shares them.
///
/// Steps that mostly hold nothing teach the baselines little and cost as much as busy ones:
/// a year of 50 sites at 5 requests an hour each was 26 M steps of the sites, where 0.4 M hours
/// say as much.
package enum SiteSteps {
    /// The step lengths, in minutes, shortest first.
    package static let lengths = [1, 5, 15, 60]
    /// Requests a step should hold, on average: fewer, and the site is checked at a longer step.
    package static let requestsPerStep = 4.0
    /// Hours with requests a site needs to be checked at a longer step: under a day its steps
    /// cost nothing, and a longer one would be mostly cut short by the input's end (which
    /// leaves a step undecided).
    package static let shortestActiveHours = 24

    /// Whether any site of `requests` over `span` may be checked at a longer step: one sent fewer
    /// than `requestsPerStep` a minute over the whole span, a day or more (the hours with
    /// requests are counted only then: a pass over the buckets).
    package static func anyMayBeQuiet(requests: [Int], span: ClosedRange<Int32>) -> Bool {
        let minutes = Int(span.upperBound) - Int(span.lowerBound) + 1
        return minutes >= 60 * shortestActiveHours && requests.contains { Double($0) < requestsPerStep * Double(minutes) }
    }

    /// The step of a site with `requests` in `activeHours` hours that had any.
    package static func stepMinutes(requests: Int, activeHours: Int) -> Int {
        guard activeHours >= shortestActiveHours else { return 1 }
        let perMinute = Double(requests) / Double(60 * activeHours)
        return lengths.first { perMinute * Double($0) >= requestsPerStep } ?? lengths.last!
    }

    /// The first minute of the step of `length` minutes that holds `minute`.
    package static func stepStart(_ minute: Int32, length: Int) -> Int32 {
        let minute = Int(minute)
        return Int32(minute - ((minute % length) + length) % length)
    }
}
