import Foundation

/// A local HTTP server on 127.0.0.1 that records the POSTs it gets: a webhook receiver, or one
/// that stands in for Alertmanager. It can refuse the first requests (answering 503), answer
/// slowly, or hold every answer until `release()`.
final class HTTPReceiver: @unchecked Sendable {
    struct Request {
        var method: String
        var path: String
        var headers: [String: String]
        var body: String
        var at: Date
    }

    let port: UInt16
    private let listener: Int32
    // Invariant: everything below is only touched with `condition` locked.
    private let condition = NSCondition()
    private var received: [Request] = []
    private var attempts = 0
    private var failFirst: Int
    private var delay: Double
    private var holding: Bool
    private let endless: Bool
    /// Every request answered with this status, a `Location` to the same path over https, and
    /// a body that echoes the path (as some servers do).
    private let answerAll: Int?
    private var stopped = false

    /// `failFirst` requests are answered 503; each answer waits `delay` seconds; with `hold`,
    /// no answer is given until `release()`; with `endless`, each is a 200 whose body never
    /// ends (it is sent until the client closes the connection).
    init(failFirst: Int = 0, delay: Double = 0, hold: Bool = false, endless: Bool = false, answerAll: Int? = nil) throws {
        self.endless = endless
        self.answerAll = answerAll
        self.failFirst = failFirst
        self.delay = delay
        holding = hold
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = UInt16(bigEndian: address.sin_port)
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    var url: String { "http://127.0.0.1:\(port)" }

    /// An address where nothing listens (a port that was bound, then closed).
    static func closedPortURL() -> String {
        let receiver = try! HTTPReceiver()
        let url = receiver.url
        receiver.stop()
        return url
    }

    var requests: [Request] {
        condition.lock()
        defer { condition.unlock() }
        return received
    }

    /// Requests answered or not, 503s included.
    var attemptCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return attempts
    }

    func release() {
        condition.lock()
        holding = false
        condition.broadcast()
        condition.unlock()
    }

    func stop() {
        condition.lock()
        stopped = true
        holding = false
        condition.broadcast()
        condition.unlock()
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    /// Waits up to `seconds` for `condition` on the requests received.
    func wait(seconds: Double = 30, until predicate: ([Request]) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if predicate(requests) { return true }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return predicate(requests)
    }

    private func acceptLoop() {
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                condition.lock()
                let done = stopped
                condition.unlock()
                if done || errno != EINTR { return }
                continue
            }
            Thread { [self] in serve(connection) }.start()
        }
    }

    /// Reads requests from one connection (keep-alive) and answers each.
    private func serve(_ connection: Int32) {
        defer { close(connection) }
        var buffer: [UInt8] = []
        while true {
            // The head, up to the blank line.
            var headEnd: Int?
            while headEnd == nil {
                if let range = Self.find([13, 10, 13, 10], in: buffer) {
                    headEnd = range
                } else if !read(connection, into: &buffer) {
                    return
                }
            }
            let head = String(decoding: buffer[..<headEnd!], as: UTF8.self)
            var lines = head.components(separatedBy: "\r\n")
            let requestLine = lines.removeFirst().split(separator: " ")
            var headers: [String: String] = [:]
            for line in lines {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            let length = Int(headers["content-length"] ?? "0") ?? 0
            let bodyStart = headEnd! + 4
            while buffer.count < bodyStart + length { if !read(connection, into: &buffer) { return } }
            let body = String(decoding: buffer[bodyStart..<(bodyStart + length)], as: UTF8.self)
            buffer.removeFirst(bodyStart + length)

            condition.lock()
            attempts += 1
            let refuse = failFirst > 0
            if refuse { failFirst -= 1 }
            while holding && !stopped { condition.wait() }
            let wait = delay
            condition.unlock()
            if wait > 0 { Thread.sleep(forTimeInterval: wait) }
            if !refuse {
                condition.lock()
                received.append(
                    Request(
                        method: String(requestLine.first ?? ""), path: requestLine.count > 1 ? String(requestLine[1]) : "",
                        headers: headers, body: body, at: Date()))
                condition.unlock()
            }
            if let status = answerAll {
                let path = requestLine.count > 1 ? String(requestLine[1]) : "/"
                let echo = "no such hook: \(path)"
                let answer =
                    "HTTP/1.1 \(status) Whatever\r\nLocation: https://127.0.0.1:\(port)\(path)\r\nContent-Length: \(echo.utf8.count)\r\n\r\n\(echo)"
                let bytes = Array(answer.utf8)
                guard bytes.withUnsafeBytes({ send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == bytes.count else {
                    return
                }
                continue
            }
            if endless && !refuse {
                var chunk = Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
                let piece = Array("10000\r\n".utf8) + [UInt8](repeating: 0x61, count: 0x10000) + Array("\r\n".utf8)
                while chunk.withUnsafeBytes({ send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == chunk.count {
                    chunk = piece
                }
                return
            }
            let answer =
                refuse
                ? "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 12\r\nContent-Type: text/plain\r\n\r\nnot yet, sir"
                : "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
            let bytes = Array(answer.utf8)
            guard bytes.withUnsafeBytes({ send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == bytes.count else { return }
        }
    }

    private func read(_ connection: Int32, into buffer: inout [UInt8]) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = recv(connection, &chunk, chunk.count, 0)
        guard count > 0 else { return false }
        buffer += chunk[..<count]
        return true
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start..<(start + needle.count)].elementsEqual(needle) {
            return start
        }
        return nil
    }
}
