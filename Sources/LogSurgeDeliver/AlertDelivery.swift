import AsyncHTTPClient
import Foundation
import LogSurgeCore
import LogSurgeDetect
import NIOCore
import NIOHTTP1

/// Delivers alert episodes as they are raised and closed: to Prometheus Alertmanager
/// (`--alertmanager URL`, its v2 API) and as alert lines to webhooks (`--webhook URL`).
///
/// Nothing here blocks the caller: `deliver` appends to each receiver's bounded queue and
/// returns. Each receiver has a thread of its own that posts its queue in order (an episode's
/// close never overtakes its opening), retries a post that failed for a reason that may pass (no
/// connection, a timeout, a 5xx, 408, 429) with doubling waits, and gives it up after
/// `Options.attempts`. A queue that overflows gives up its oldest post. Alertmanager forgets an
/// alert that is not posted again before its `endsAt`: while an episode is open, it is posted
/// again every `keepAliveInterval` with `endsAt` `validity` seconds ahead.
///
/// `finish()` lets the queues drain (until a receiver has gone `drainTimeout` seconds without
/// accepting a post) and says what could not be delivered.
public final class AlertDelivery: @unchecked Sendable {
    public struct Options: Sendable {
        /// Attempts at one post, the first included.
        public var attempts = 6
        /// The wait before the first retry, doubled before each next, at most `maximumBackoff`.
        public var firstBackoff = 0.5
        public var maximumBackoff = 30.0
        /// Seconds one attempt may take, connecting included.
        public var timeout = 10.0
        /// Posts waiting for one receiver at most: a run that goes on (a followed log, a pipe)
        /// keeps this many; a batch run, which raises a whole archive's alerts at once, more
        /// (`batchQueueLimit`).
        public var queueLimit = 1000
        public static let batchQueueLimit = 100_000
        /// Seconds between the posts that keep an open episode alive in Alertmanager (at most 60).
        public var keepAliveInterval = 30.0
        /// Seconds past now that an open episode's `endsAt` is set to: if logsurge stops without
        /// closing it (a followed log stopped, a run that ended with it going on), Alertmanager
        /// resolves it then.
        public var validity = 300.0
        /// At the end of the run, seconds a receiver may go without accepting a post before what
        /// it has left is given up (the attempt under way is cut then).
        public var drainTimeout = 20.0

        public init() {}
    }

    /// A receiver's address that cannot be posted to.
    public struct InvalidURL: Error, CustomStringConvertible {
        public var description: String
    }

    /// What went wrong with one receiver: posts given up, and the last reason.
    public struct Problem: Sendable, CustomStringConvertible {
        public var receiver: String
        public var failed: Int
        public var lastError: String
        /// No attempt at this receiver was ever answered.
        public var neverAnswered: Bool

        public var description: String {
            "\(receiver): \(failed) alert post\(failed == 1 ? "" : "s") not delivered"
                + (neverAnswered ? " (it never answered)" : "") + ": \(lastError)"
        }
    }

    private let options: Options
    private let instance: String
    private let client: HTTPClient
    private let receivers: [Receiver]
    private let alertmanagers: [Receiver]
    // Invariant: `open` and `finished` are only touched under `lock`.
    private let lock = NSLock()
    /// Open episodes as Alertmanager sees them, by episode id.
    private var open: [Int: AlertmanagerAlert] = [:]
    private var finished = false
    private let keepAliveStop = NSCondition()
    private var keepAliveThread: Thread?
    private let keepAliveDone = DispatchSemaphore(value: 0)

    /// Checks every address (http or https, with a host) before anything is read.
    public init(alertmanagers: [String], webhooks: [String], instance: String, options: Options = Options()) throws(InvalidURL) {
        self.options = options
        self.instance = instance
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(
            connect: .milliseconds(Int64(options.timeout * 1000)), read: .milliseconds(Int64(options.timeout * 1000)))
        configuration.redirectConfiguration = .disallow
        // One attempt is one connection attempt: the retries are ours, counted and spaced out
        // (the client's own would retry a refused connection until the timeout).
        configuration.connectionPool.retryConnectionEstablishment = false
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        var all: [Receiver] = []
        do {
            for url in alertmanagers {
                let address = try Self.checked(url, option: "--alertmanager", appendingPath: "/api/v2/alerts")
                all.append(
                    Receiver(
                        name: address.name, endpoint: address.endpoint, kind: .alertmanager, authorization: address.authorization,
                        secrets: address.secrets))
            }
            for url in webhooks {
                let address = try Self.checked(url, option: "--webhook")
                all.append(
                    Receiver(
                        name: address.name, endpoint: address.endpoint, kind: .webhook, authorization: address.authorization,
                        secrets: address.secrets))
            }
        } catch {
            try? client.syncShutdown()
            throw error
        }
        receivers = all
        self.alertmanagers = all.filter { $0.kind == .alertmanager }
        for receiver in receivers { receiver.start(client: client, options: options) }
        if !self.alertmanagers.isEmpty {
            let thread = Thread { [self] in keepAlive() }
            thread.name = "logsurge.alertmanager"
            keepAliveThread = thread
            thread.start()
        }
    }

    /// The host name, for the `instance` label by default.
    public static var hostName: String {
        var name = [CChar](repeating: 0, count: 256)
        guard gethostname(&name, name.count - 1) == 0 else { return "localhost" }
        let host = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return host.isEmpty ? "localhost" : host
    }

    /// A receiver's address, checked: where to post (with `appendingPath` added to its path),
    /// the name messages show (no user, path or query: a webhook's path and query are often its
    /// secret), and the `Authorization` its user and password make.
    private static func checked(
        _ url: String, option: String, appendingPath suffix: String = ""
    ) throws(InvalidURL) -> (endpoint: String, name: String, authorization: String?, secrets: [String]) {
        func refuse(_ why: String) -> InvalidURL { InvalidURL(description: "\(option) '\(redacted(url))': \(why)") }
        guard var parts = URLComponents(string: url), let scheme = parts.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = parts.host, !host.isEmpty
        else { throw refuse("give an http:// or https:// address with a host") }
        if let port = parts.port, !(1...65535).contains(port) { throw refuse("the port must be between 1 and 65535") }
        // A host name, an IPv4 address or an IPv6 literal: nothing percent-encoded, no control byte.
        let hostBytes = parts.percentEncodedHost ?? ""
        guard
            hostBytes.unicodeScalars.allSatisfy({
                ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || ".-:[]_".unicodeScalars.contains($0)
            })
        else { throw refuse("the host is not a host name or an address") }
        guard parts.fragment == nil else { throw refuse("a fragment (#...) is not sent to a server: leave it out") }
        var secrets = [parts.percentEncodedPath, parts.path, parts.percentEncodedQuery, parts.query].compactMap { $0 }
            .filter { $0 != "/" && !$0.isEmpty }
        var authorization: String?
        if let user = parts.user {
            secrets += [user, parts.password, parts.percentEncodedUser, parts.percentEncodedPassword].compactMap { $0 }
            let credentials = user + ":" + (parts.password ?? "")
            let encoded = Data(credentials.utf8).base64EncodedString()
            authorization = "Basic " + encoded
            secrets.append(encoded)
            parts.user = nil
            parts.password = nil
        }
        // (The API's own path, given whole, is taken as it is.)
        let path = parts.percentEncodedPath
        if !suffix.isEmpty, !path.hasSuffix(suffix), !path.hasSuffix(suffix + "/") {
            parts.percentEncodedPath = (path.hasSuffix("/") ? String(path.dropLast()) : path) + suffix
        }
        guard let endpoint = parts.string else { throw refuse("give an http:// or https:// address with a host") }
        return (endpoint, redacted(url), authorization, secrets)
    }

    /// `url` as messages show it: scheme, host and port only.
    static func redacted(_ url: String) -> String {
        guard let parts = URLComponents(string: url), let scheme = parts.scheme, let host = parts.host, !host.isEmpty else {
            return "(an address that is not a URL)"
        }
        let shownHost = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        let rest = parts.percentEncodedPath.isEmpty || parts.percentEncodedPath == "/" ? "" : "/…"
        return "\(scheme)://\(shownHost)\(parts.port.map { ":\($0)" } ?? "")\(rest)"
    }

    /// Hands an alert event to every receiver: its line (as written to `--alerts`, without the
    /// newline) to the webhooks, the episode to Alertmanager. Returns at once.
    ///
    /// An episode closed only because the input ended (`closedAtEndOfInput`) is going on as far
    /// as anyone knows: Alertmanager keeps it open until its `endsAt` passes.
    public func deliver(_ event: AlertEvent, line: String) {
        for webhook in receivers where webhook.kind == .webhook { webhook.enqueue(.body(line)) }
        guard !alertmanagers.isEmpty, !(event.state == .closed && event.closedAtEndOfInput) else { return }
        let alert = AlertmanagerAlert(event, instance: instance)
        // The open episodes and the queues change together: a keep-alive post of an episode
        // never follows its close.
        lock.lock()
        defer { lock.unlock() }
        open[event.id] = event.state == .open ? alert : nil
        for receiver in alertmanagers { receiver.enqueue(.alerts([alert])) }
    }

    /// Episodes an earlier run raised that are still going on (`--state`): posted as open, so
    /// that Alertmanager keeps them while they last.
    public func keepOpen(_ events: [AlertEvent]) {
        guard !alertmanagers.isEmpty, !events.isEmpty else { return }
        let alerts = events.map { event in
            var opening = event
            opening.state = .open
            opening.end = nil
            return AlertmanagerAlert(opening, instance: instance)
        }
        lock.lock()
        defer { lock.unlock() }
        for (event, alert) in zip(events, alerts) { open[event.id] = alert }
        for receiver in alertmanagers { receiver.enqueue(.alerts(alerts)) }
    }

    /// The counts so far, over every receiver.
    public var counts: DeliveryCounts {
        receivers.reduce(DeliveryCounts()) { $0 + $1.counts }
    }

    /// Lets the queues drain (until a receiver has gone `drainTimeout` seconds without accepting
    /// a post; what is left then is given up),
    /// stops the threads and the client, and returns the receivers that had posts given up.
    /// `announce` is told how many posts still wait after a second, if any do (a person may be
    /// waiting for the program to end). Call once, at the end of the run.
    public func finish(announce: (Int) -> Void = { _ in }) -> [Problem] {
        let began = ContinuousClock.now
        while receivers.contains(where: { $0.waiting > 0 }), ContinuousClock.now - began < .seconds(1) {
            Thread.sleep(forTimeInterval: 0.01)
        }
        let waiting = receivers.reduce(0) { $0 + $1.waiting }
        if waiting > 0, options.drainTimeout > 0 { announce(waiting) }
        lock.lock()
        finished = true
        lock.unlock()
        keepAliveStop.lock()
        keepAliveStop.broadcast()
        keepAliveStop.unlock()
        if keepAliveThread != nil { keepAliveDone.wait() }
        let deadline = ContinuousClock.now + .milliseconds(Int64(options.drainTimeout * 1000))
        for receiver in receivers { receiver.drain(until: deadline) }
        for receiver in receivers { receiver.waitUntilDrained() }
        try? client.syncShutdown()
        return receivers.compactMap { $0.problem }
    }

    /// Posts the open episodes again every `keepAliveInterval` seconds (unless a post of them
    /// is still waiting), until `finish`.
    private func keepAlive() {
        defer { keepAliveDone.signal() }
        let interval = min(60, max(0.05, options.keepAliveInterval))
        while true {
            keepAliveStop.lock()
            let wokenEarly = keepAliveStop.wait(until: Date(timeIntervalSinceNow: interval))
            keepAliveStop.unlock()
            lock.lock()
            defer { lock.unlock() }
            if finished { return }
            if wokenEarly { continue }
            let alerts = open.keys.sorted().compactMap { open[$0] }
            guard !alerts.isEmpty else { continue }
            for receiver in alertmanagers { receiver.enqueue(.alerts(alerts), unlessWaiting: true) }
        }
    }
}

/// An alert as Alertmanager's v2 API takes it (`POST /api/v2/alerts`, an array of these).
struct AlertmanagerAlert: Sendable {
    var labels: [(String, String)]
    var annotations: [(String, String)]
    /// The episode's first minute (UTC minute), and its last for a closed one.
    var start: Int32
    var end: Int32?
    var raisedAt: Int32

    init(_ event: AlertEvent, instance: String) {
        let name: String, severity: String
        switch event.kind {
        case .surge: (name, severity) = ("LogsurgeSurge", "warning")
        case .errorSpike: (name, severity) = ("LogsurgeErrorSpike", "critical")
        case .drop: (name, severity) = ("LogsurgeDrop", "critical")
        }
        labels = [("alertname", name), ("site", event.site)]
        if event.kind == .surge, let country = event.country { labels.append(("country", country.description)) }
        labels += [("instance", instance), ("severity", severity)]
        start = event.start
        end = event.state == .closed ? event.end : nil
        raisedAt = event.raisedAt
        var notes: [(String, String)] = []
        let place = event.site == "-" ? "the site" : event.site
        func number(_ value: Double?) -> String { value.map { JSONValue.number(($0 * 1000).rounded() / 1000).encoded } ?? "" }
        // "minute", or "15 minutes" / "hour" for a site checked at a longer step.
        let step = event.stepName
        switch event.kind {
        case .surge:
            let country = event.country?.description ?? "?"
            notes.append(
                ("summary", "Requests from \(country) to \(place) far above their baseline"))
            notes.append(
                (
                    "description",
                    "\(event.peakRequests) requests from \(country) in the peak \(step) \(UTCMinute.format(event.peakMinute)), "
                        + "against a baseline of \(number(event.baselineRequests)) (\(number(event.ratio)) x)"
                        + (event.clients.map { ", from \($0) distinct clients" } ?? "") + "."
                ))
        case .errorSpike:
            notes.append(("summary", "The share of 5xx responses of \(place) far above its baseline"))
            notes.append(
                (
                    "description",
                    "\(number((event.peakErrorRate ?? 0) * 100)) % of \(event.peakRequests) requests were 5xx in the peak \(step) "
                        + "\(UTCMinute.format(event.peakMinute)), against a baseline of \(number((event.baselineErrorRate ?? 0) * 100)) %."
                ))
        case .drop:
            notes.append(("summary", "Requests to \(place) far below their baseline"))
            notes.append(
                (
                    "description",
                    "\(event.peakRequests) requests in the lowest \(step) \(UTCMinute.format(event.peakMinute)), "
                        + "against a baseline of \(number(event.baselineRequests))."
                ))
        }
        notes.append(("id", String(event.id)))
        notes.append(("kind", event.kind.rawValue))
        notes.append(("start", UTCMinute.format(event.start)))
        notes.append(("raised_at", UTCMinute.format(event.raisedAt)))
        notes.append(("peak_minute", UTCMinute.format(event.peakMinute)))
        notes.append(("peak", String(event.peakRequests)))
        if event.stepMinutes != 1 { notes.append(("step_minutes", String(event.stepMinutes))) }
        switch event.kind {
        case .surge, .drop:
            if let baseline = event.baselineRequests { notes.append(("baseline", number(baseline))) }
            if let ratio = event.ratio { notes.append(("ratio", number(ratio))) }
            if let clients = event.clients { notes.append(("clients", String(clients))) }
            if let share = event.topClientShare { notes.append(("top_client_share", number(share))) }
        case .errorSpike:
            if let rate = event.peakErrorRate { notes.append(("peak_error_rate", number(rate))) }
            if let rate = event.baselineErrorRate { notes.append(("baseline_error_rate", number(rate))) }
        }
        annotations = notes
    }

    /// The alert's JSON object, at wall-clock time `now` (seconds since 1970): an open one ends
    /// `validity` seconds from now; a closed one at the end of its last minute, or now if that
    /// is later than now (a log ahead of the clock). `log_delay_seconds`: how far the log's
    /// minute that raised it is behind the clock.
    func json(now: Double, validity: Double) -> JSONObject {
        let startSeconds = min(Double(start) * 60, now)
        let ends = end.map { max(startSeconds, min(Double($0 + 1) * 60, now)) } ?? now + validity
        var labelObject = JSONObject()
        for (name, value) in labels { labelObject.append(name, .string(value)) }
        var annotationObject = JSONObject()
        for (name, value) in annotations { annotationObject.append(name, .string(value)) }
        let delay = max(0, now - Double(raisedAt + 1) * 60)
        annotationObject.append("log_delay_seconds", .string(String(Int(delay.rounded()))))
        return [
            "labels": .object(labelObject),
            "annotations": .object(annotationObject),
            "startsAt": .string(UTCMinute.format(seconds: startSeconds)),
            "endsAt": .string(UTCMinute.format(seconds: ends)),
        ]
    }
}
