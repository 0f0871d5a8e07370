import AsyncHTTPClient
import Foundation
import LogSurgeCore
import NIOCore
import NIOHTTP1

/// One `--alertmanager` or `--webhook` address: its bounded queue of posts and the thread that
/// sends them in order.
final class Receiver: @unchecked Sendable {
    enum Kind { case alertmanager, webhook }

    /// A post waiting: a webhook's alert line, or alerts for Alertmanager (their JSON made when
    /// sent, as `endsAt` is counted from then).
    enum Post {
        case body(String)
        case alerts([AlertmanagerAlert])
    }

    /// The address as messages show it: scheme, host and port, without the user, the path or
    /// the query (a webhook's path is often its secret).
    let name: String
    let endpoint: String
    let kind: Kind
    /// `Basic …`, from the user and password in the address.
    let authorization: String?
    /// What of the address is secret (its path, query, credentials): never in a message, even
    /// when an answer echoes it.
    let secrets: [String]

    // Invariant: everything below is only touched with `condition` locked.
    private let condition = NSCondition()
    private var queue: [Post] = []
    /// The first post of `queue` not yet taken (taken ones are dropped in bulk).
    private var head = 0
    private var limit = 1000
    private var counted = DeliveryCounts()
    private var lastError: String?
    private var answered = false
    /// Set by `finish`: the thread drains the queue until then, and gives up what is left.
    private var deadline: ContinuousClock.Instant?
    private let done = DispatchSemaphore(value: 0)
    private var started = false

    init(name: String, endpoint: String, kind: Kind, authorization: String?, secrets: [String]) {
        self.name = name
        self.endpoint = endpoint
        self.kind = kind
        self.authorization = authorization
        self.secrets = secrets.filter { $0.count >= 3 }.sorted { $0.count > $1.count }
    }

    func start(client: HTTPClient, options: AlertDelivery.Options) {
        condition.lock()
        limit = max(1, options.queueLimit)
        started = true
        condition.unlock()
        let thread = Thread { [self] in
            run(client: client, options: options)
            done.signal()
        }
        thread.name = "logsurge.deliver"
        thread.start()
    }

    /// Appends `post`; a full queue gives up its oldest. With `unlessWaiting`, nothing is added
    /// while a post is still waiting (the keep-alive posts of a receiver that is down).
    func enqueue(_ post: Post, unlessWaiting: Bool = false) {
        condition.lock()
        defer { condition.unlock() }
        if unlessWaiting, queue.count > head { return }
        if queue.count - head >= limit {
            head += 1
            counted.failed += 1
            lastError = "more than \(limit) posts waiting: the oldest was given up"
        }
        queue.append(post)
        condition.signal()
    }

    var counts: DeliveryCounts {
        condition.lock()
        defer { condition.unlock() }
        return counted
    }

    /// Posts waiting, the one being sent not counted.
    var waiting: Int {
        condition.lock()
        defer { condition.unlock() }
        return queue.count - head
    }

    var problem: AlertDelivery.Problem? {
        condition.lock()
        defer { condition.unlock() }
        guard counted.failed > 0 else { return nil }
        return .init(receiver: name, failed: counted.failed, lastError: lastError ?? "not delivered", neverAnswered: !answered)
    }

    /// Lets the thread drain the queue until `deadline` (later while posts are accepted); every
    /// receiver is told before any is waited for (`waitUntilDrained`), so that they drain side
    /// by side against the same deadline.
    func drain(until deadline: ContinuousClock.Instant) {
        condition.lock()
        self.deadline = deadline
        condition.broadcast()
        condition.unlock()
    }

    /// Waits for the thread to end, after `drain(until:)`.
    func waitUntilDrained() {
        condition.lock()
        let running = started
        condition.unlock()
        if running { done.wait() }
    }

    private func run(client: HTTPClient, options: AlertDelivery.Options) {
        // A receiver whose last post failed every attempt is tried once a post until it answers
        // again: a dead one does not hold each post for the whole series of waits.
        var down = false
        while let post = next() {
            var attempt = 1
            var wait = options.firstBackoff
            while true {
                let outcome = send(post, client: client, options: options)
                condition.lock()
                if outcome.answered { answered = true }
                if outcome.error == nil {
                    counted.sent += 1
                    down = false
                    // Draining, a receiver that accepts posts keeps its time: the drain ends
                    // after `drainTimeout` without one accepted, not after that long in all.
                    if deadline != nil { deadline = ContinuousClock.now + .milliseconds(Int64(options.drainTimeout * 1000)) }
                    condition.unlock()
                    break
                }
                lastError = outcome.error
                let pastDeadline = deadline.map { ContinuousClock.now + .milliseconds(Int64(wait * 1000)) >= $0 } ?? false
                if !outcome.retryable || attempt >= (down ? 1 : options.attempts) || pastDeadline {
                    counted.failed += 1
                    if outcome.retryable { down = true }
                    condition.unlock()
                    break
                }
                counted.retried += 1
                // Waits `wait` seconds (cut short by the deadline when `finish` sets one).
                let until = Date(timeIntervalSinceNow: wait)
                while Date() < until {
                    if let deadline, ContinuousClock.now >= deadline { break }
                    _ = condition.wait(until: until)
                }
                condition.unlock()
                attempt += 1
                wait = min(options.maximumBackoff, wait * 2)
            }
        }
    }

    /// The next post, waiting for one; nil once `finish` was called and the queue is empty, or
    /// its deadline passed (what is left is given up).
    private func next() -> Post? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let deadline, ContinuousClock.now >= deadline {
                let left = queue.count - head
                if left > 0 {
                    counted.failed += left
                    lastError = lastError ?? "the run ended before \(left) post\(left == 1 ? " was" : "s were") sent"
                }
                queue.removeAll()
                head = 0
                return nil
            }
            if head < queue.count {
                let post = queue[head]
                head += 1
                if head >= 64, head * 2 >= queue.count {
                    queue.removeFirst(head)
                    head = 0
                }
                return post
            }
            if deadline != nil { return nil }
            condition.wait()
        }
    }

    /// One attempt: nil error when the receiver accepted it (2xx). It ends after
    /// `options.timeout`, or at the drain's deadline if that comes first.
    private func send(
        _ post: Post, client: HTTPClient, options: AlertDelivery.Options
    ) -> (error: String?, retryable: Bool, answered: Bool) {
        let body: String
        switch post {
        case .body(let line): body = line
        case .alerts(let alerts):
            let now = Date().timeIntervalSince1970
            body = JSONValue.array(alerts.map { .object($0.json(now: now, validity: options.validity)) }).encoded
        }
        var seconds = options.timeout
        condition.lock()
        if let deadline { seconds = min(seconds, max(0.05, (deadline - ContinuousClock.now).inSeconds)) }
        condition.unlock()
        let answer = Answer()
        do {
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "User-Agent", value: "logsurge/\(LogSurgeVersion.string)")
            if let authorization { headers.add(name: "Authorization", value: authorization) }
            let request = try HTTPClient.Request(url: endpoint, method: .POST, headers: headers, body: .string(body))
            do {
                try client.execute(request: request, delegate: answer, deadline: .now() + .milliseconds(Int64(seconds * 1000))).wait()
            } catch is Answer.Enough {
                // The head and the start of the body were all there was to read.
            }
        } catch {
            // An answer cut short by the deadline was still an answer.
            guard let status = answer.status else {
                // One that is not HTTP was an answer too, if not one to understand.
                let text = "\(type(of: error)) \(error)"
                if text.contains("HTTPParserError") { return ("the answer was not valid HTTP", true, true) }
                return (Self.describe(error), true, false)
            }
            if (200..<300).contains(status) { return (nil, false, true) }
        }
        guard let status = answer.status else { return ("no answer", true, false) }
        if (200..<300).contains(status) { return (nil, false, true) }
        var reason = "HTTP \(status)"
        if (300..<400).contains(status) {
            reason += " (a redirect, not followed: give the address it names"
            if let location = answer.location.flatMap({ URLComponents(string: $0) }), let host = location.host {
                reason += ", on \(location.scheme.map { "\($0)://" } ?? "")\(host)\(location.port.map { ":\($0)" } ?? "")"
            }
            reason += ")"
        }
        let line = String(decoding: answer.start, as: UTF8.self).split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        if !line.isEmpty, !(300..<400).contains(status) { reason += ": " + scrubbed(line) }
        // A request refused as it is will be refused again; a server in trouble may recover.
        return (reason, status >= 500 || status == 408 || status == 429, true)
    }

    /// `text` (from an answer) without the address's secrets.
    private func scrubbed(_ text: String) -> String {
        secrets.reduce(text) { $0.replacingOccurrences(of: $1, with: "…") }
    }

    /// Reads an answer's status, its `Location` and the first 200 bytes of its body, and no
    /// more: a receiver that sends an endless body costs a few bytes, not the memory it fills.
    final class Answer: HTTPClientResponseDelegate, @unchecked Sendable {
        typealias Response = Void
        // Invariant: written on the task's event loop, read after the task ended.
        var status: Int?
        var location: String?
        var start: [UInt8] = []
        /// The answer is not read further.
        struct Enough: Error {}

        func didReceiveHead(task: HTTPClient.Task<Void>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
            status = Int(head.status.code)
            location = head.headers.first(name: "Location").map { String($0.prefix(200)) }
            // A success needs nothing of its body.
            if (200..<300).contains(Int(head.status.code)) { return task.eventLoop.makeFailedFuture(Enough()) }
            return task.eventLoop.makeSucceededFuture(())
        }

        func didReceiveBodyPart(task: HTTPClient.Task<Void>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
            start += buffer.readableBytesView.prefix(max(0, 200 - start.count))
            return start.count >= 200 ? task.eventLoop.makeFailedFuture(Enough()) : task.eventLoop.makeSucceededFuture(())
        }

        func didFinishRequest(task: HTTPClient.Task<Void>) throws {}
    }

    /// An error as a person reads it (not Foundation's or NIO's type names and dumps).
    static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .connectTimeout: return "no connection within the timeout"
            case .readTimeout, .deadlineExceeded: return "no answer within the timeout"
            case .remoteConnectionClosed: return "the connection was closed before an answer"
            case .tlsHandshakeTimeout:
                return "the TLS handshake did not end within the timeout (an https address of a server that speaks plain http?)"
            case .getConnectionFromPoolTimeout: return "no connection within the timeout"
            default: break
            }
        }
        if let error = error as? IOError { return "connection failed: \(String(cString: strerror(error.errnoCode)))" }
        let text = "\(type(of: error)) \(error)"
        if text.contains("connectionRefused") || text.contains("ECONNREFUSED") || text.contains("Connection refused") {
            return "connection refused"
        }
        if text.contains("UnknownHost") || text.contains("DNS") { return "the host name could not be resolved" }
        if text.contains("NIOSSL") || text.contains("handshake") {
            return
                "the TLS handshake failed (an https address of a server that speaks plain http, or a certificate this machine does not trust)"
        }
        return "the request failed (\(type(of: error)))"
    }
}
