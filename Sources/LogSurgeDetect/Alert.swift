import LogSurgeCore

/// An alert episode as the contract writes it: one event when it opens, one when it closes.
public struct AlertEvent: Sendable, Equatable {
    public enum Kind: String, Sendable { case surge, errorSpike = "error_spike", drop }
    public enum State: String, Sendable { case open, closed }

    public var id: Int
    public var state: State
    public var kind: Kind
    public var site: String
    /// The watched country of a surge; nil for error spikes and plain series.
    public var country: CountryCode?
    /// First step of the episode (UTC minute).
    public var start: Int32
    /// The step at which the detector, reading in order, had the evidence to raise it.
    public var raisedAt: Int32
    /// Last step of the episode; nil while open.
    public var end: Int32?
    public var peakMinute: Int32
    /// Requests at the peak step (of the watched country for a surge, of the site for an error
    /// spike); for a drop, the site's requests at its lowest step.
    public var peakRequests: Int
    /// Surges and drops: the expected requests at the peak (lowest) step, and peak/baseline.
    public var baselineRequests: Double?
    public var ratio: Double?
    /// Error spikes: the 5xx share at the peak step and the baseline share.
    public var peakErrorRate: Double?
    public var baselineErrorRate: Double?
    /// Surges, when the buckets count clients: distinct clients of the watched country in the
    /// peak step, and the share of the episode's excess requests its busiest client sent.
    public var clients: Int?
    public var topClientShare: Double?
    /// The series against its baseline, step by step, from up to 30 steps before `start` to the
    /// step that closed it (closed events only): for the report's picture.
    public var picture: Picture?
    /// Minutes of the steps its counts are of (`peak_requests`, `baseline_requests`): 1 but
    /// for a site checked at a longer step (`SiteSteps`) or a series of longer steps.
    public var stepMinutes = 1
    /// Closed only because the input ended while the episode was still open (the detector had
    /// not seen it end): it was going on at the last minute read. Not written in alert lines.
    public var closedAtEndOfInput = false

    /// A stretch of a series and the baseline it was judged against.
    public struct Picture: Sendable, Equatable {
        /// The UTC minute of the first step.
        public var firstMinute: Int32
        public var stepMinutes: Int
        /// Requests per step (surges) or the 5xx share per step (error spikes).
        public var values: [Double]
        /// The expected value of each step.
        public var baselines: [Double]
    }
}

extension AlertEvent {
    /// Its step in words: "minute", "5 minutes", "hour" (`stepName(minutes:)`).
    public var stepName: String { Self.stepName(minutes: stepMinutes) }

    /// A step of `minutes` in words, as a sentence says it: "minute", "15 minutes", "hour".
    public static func stepName(minutes: Int) -> String {
        switch minutes {
        case 1: "minute"
        case 60: "hour"
        default: "\(minutes) minutes"
        }
    }

    /// What its counts are per: "/min", "/5 min", "/h", "/day".
    public var perStep: String {
        switch stepMinutes {
        case 1: "/min"
        case 60: "/h"
        case 1440: "/day"
        default: "/\(stepMinutes) min"
        }
    }
}

/// An alert episode as every output shows it (the text report, the HTML page, the metrics,
/// the state): its events paired by id, which names one episode among a run's events, the
/// latest standing for it.
public struct AlertEpisode: Sendable, Equatable {
    /// Its latest event: the opening one while it is open, the closing one once it closed.
    public var event: AlertEvent

    public init(_ event: AlertEvent) { self.event = event }

    /// Going on at the last minute read: open, or closed only because the input ended there.
    public var isGoingOn: Bool { event.state == .open || event.closedAtEndOfInput }

    /// One per episode of `events`, in the order they opened (the order of their first event).
    public static func of(_ events: [AlertEvent]) -> [AlertEpisode] {
        var order: [Int] = []
        var latest: [Int: AlertEvent] = [:]
        for event in events {
            if latest[event.id] == nil { order.append(event.id) }
            if latest[event.id] == nil || event.state == .closed { latest[event.id] = event }
        }
        return order.compactMap { latest[$0] }.map(AlertEpisode.init)
    }
}
