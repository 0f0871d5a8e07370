import Foundation
import LogSurgeCore
import LogSurgePipelineTestSupport
import Testing

/// `--webhook` and `--alertmanager`: every alert reaches its receivers, a receiver that is down,
/// slow or absent never holds the reading back, and what could not be delivered is counted and
/// makes the exit status 1 (contract, "Alert delivery").
@Suite(.tags(.launchesBinary), .enabled(if: Support.executable != nil, "the logsurge executable is not built"))
struct DeliveryCLITests {
    /// Reads the JSON object a summary file holds.
    private func summary(_ path: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any] ?? [:]
    }

    private func deliveries(_ path: String) throws -> [String: Int] {
        try summary(path)["deliveries"] as? [String: Int] ?? [:]
    }

    private func lines(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    private func paths() -> (alerts: String, summary: String) {
        let directory = Support.temporaryDirectory()
        return (directory.appendingPathComponent("alerts.jsonl").path, directory.appendingPathComponent("summary.json").path)
    }

    @Test func everyAlertLineReachesTheWebhookAsWritten() throws {
        let receiver = try HTTPReceiver()
        defer { receiver.stop() }
        let (alerts, summaryPath) = paths()
        let metrics = Support.temporaryDirectory().appendingPathComponent("m.prom").path
        let result = try Support.run([
            "--quiet", "--alerts", alerts, "--summary", summaryPath, "--metrics", metrics, "--webhook", receiver.url + "/hook",
            Support.surgeLogPath,
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let exposition = try String(contentsOfFile: metrics, encoding: .utf8)
        for sample in [
            "logsurge_alert_deliveries_total{result=\"failed\"} 0", "logsurge_alert_deliveries_total{result=\"retried\"} 0",
            "logsurge_alert_deliveries_total{result=\"sent\"} 2",
        ] {
            #expect(exposition.contains(sample + "\n"), "\(sample) not in the metrics")
        }
        let written = try lines(alerts)
        #expect(written.count == 2, "\(written)")  // the surge, opened and closed
        let posted = receiver.requests
        #expect(posted.map(\.body) == written)
        #expect(posted.allSatisfy { $0.method == "POST" && $0.path == "/hook" && $0.headers["content-type"] == "application/json" })
        #expect(try deliveries(summaryPath) == ["sent": 2, "retried": 0, "failed": 0])
    }

    @Test func aReceiverDownForItsFirstAttemptsGetsEveryLineInOrder() throws {
        let receiver = try HTTPReceiver(failFirst: 3)
        defer { receiver.stop() }
        let (alerts, summaryPath) = paths()
        let result = try Support.run([
            "--quiet", "--alerts", alerts, "--summary", summaryPath, "--webhook", receiver.url, "--delivery-backoff", "0.05",
            Support.surgeLogPath,
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(receiver.requests.map(\.body) == (try lines(alerts)))
        #expect(receiver.attemptCount == 5)
        #expect(try deliveries(summaryPath) == ["sent": 2, "retried": 3, "failed": 0])
    }

    @Test func aReceiverThatHoldsItsAnswersDoesNotHoldTheRunBack() throws {
        // Nothing is answered until the alerts file is complete: the reading, the detectors and
        // the file (written as they come, from a stream) went on while the first post waited.
        let receiver = try HTTPReceiver(hold: true)
        defer { receiver.stop() }
        let (alerts, summaryPath) = paths()
        let process = Process()
        process.executableURL = Support.executable!
        process.arguments = [
            "--quiet", "--alerts", alerts, "--summary", summaryPath, "--webhook", receiver.url, "--delivery-drain", "60",
            "--delivery-timeout", "120",
        ]
        process.standardInput = FileHandle(forReadingAtPath: Support.surgeLogPath)
        process.standardError = FileHandle.nullDevice
        try process.run()
        #expect(Support.eventually { ((try? lines(alerts)) ?? []).count == 2 })
        #expect(receiver.requests.isEmpty)
        #expect(process.isRunning)  // waiting for the deliveries, before the summary
        receiver.release()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(receiver.requests.map(\.body) == (try lines(alerts)))
        #expect(try deliveries(summaryPath)["sent"] == 2)
    }

    @Test func aSlowReceiverGetsEverything() throws {
        let receiver = try HTTPReceiver(delay: 0.4)
        defer { receiver.stop() }
        let (alerts, summaryPath) = paths()
        let result = try Support.run([
            "--quiet", "--alerts", alerts, "--summary", summaryPath, "--webhook", receiver.url, Support.surgeLogPath,
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(receiver.requests.map(\.body) == (try lines(alerts)))
    }

    @Test func aReceiverThatNeverAnsweredIsExitStatusOneAfterEveryOutput() throws {
        let (alerts, summaryPath) = paths()
        let absent = HTTPReceiver.closedPortURL()
        let result = try Support.run([
            "--quiet", "--alerts", alerts, "--summary", summaryPath, "--webhook", absent, "--delivery-backoff", "0.01",
            "--delivery-attempts", "3", Support.surgeLogPath,
        ])
        #expect(result.status == 1)
        #expect(result.stderr.contains("alert delivery: \(absent): 2 alert posts not delivered (it never answered)"), "\(result.stderr)")
        #expect(!result.stderr.contains("The operation could not be completed"))
        #expect(try lines(alerts).count == 2)
        // The first post tried three times; the receiver then counts as down, and the next is
        // tried once (until one is answered).
        #expect(try deliveries(summaryPath) == ["sent": 0, "retried": 2, "failed": 2])
    }

    @Test(arguments: [
        (["--webhook", "ftp://example.com/x"], "give an http:// or https:// address with a host"),
        (["--alertmanager", "localhost:9093"], "give an http:// or https:// address with a host"),
        (["--webhook", "http://"], "give an http:// or https:// address with a host"),
        (["--webhook", "http://127.0.0.1:65536/x"], "the port must be between 1 and 65535"),
        (["--alertmanager", "http://127.0.0.1:99999"], "the port must be between 1 and 65535"),
        (["--alertmanager", "http://am.example/#team"], "a fragment (#...) is not sent to a server"),
        (["--webhook", "http://%00/x"], "the host is not a host name or an address"),
    ])
    func anAddressThatCannotBePostedToIsAUsageError(arguments: [String], message: String) throws {
        let result = try Support.run(["--quiet"] + arguments + [Support.surgeLogPath])
        #expect(result.status == 2)
        #expect(result.stderr.contains(message), "\(result.stderr)")
    }

    /// A 200 whose body never ends is a post accepted, not a memory to fill nor a timeout to wait.
    @Test func anEndlessAnswerIsNotReadToItsEnd() throws {
        let receiver = try HTTPReceiver(endless: true)
        defer { receiver.stop() }
        let (alerts, summaryPath) = paths()
        let began = Date()
        let result = try Support.run([
            "--quiet", "--alerts", alerts, "--summary", summaryPath, "--webhook", receiver.url, "--delivery-timeout", "60",
            Support.surgeLogPath,
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(Date().timeIntervalSince(began) < 30)
        #expect(try deliveries(summaryPath) == ["sent": 2, "retried": 0, "failed": 0])
    }

    /// A user and password in the address are sent as Basic authentication, and never shown;
    /// nor are a webhook's path and query (often its secret).
    @Test func credentialsInTheAddressAreSentAndNeverShown() throws {
        let receiver = try HTTPReceiver()
        defer { receiver.stop() }
        let (alerts, _) = paths()
        let sent = try Support.run([
            "--quiet", "--alerts", alerts, "--alertmanager", "http://ops:s3cret@127.0.0.1:\(receiver.port)/am/?tenant=web",
            Support.surgeLogPath,
        ])
        #expect(sent.status == 0, "\(sent.stderr)")
        #expect(receiver.requests.first?.headers["authorization"] == "Basic " + Data("ops:s3cret".utf8).base64EncodedString())
        #expect(receiver.requests.first?.path == "/am/api/v2/alerts?tenant=web")
        let absent =
            HTTPReceiver.closedPortURL().replacingOccurrences(of: "http://", with: "http://ops:s3cret@") + "/hooks/T0/XXSECRET?token=abc"
        let failed = try Support.run([
            "--quiet", "--alerts", alerts, "--webhook", absent, "--delivery-attempts", "1", Support.surgeLogPath,
        ])
        #expect(failed.status == 1)
        #expect(failed.stderr.contains("alert delivery: http://127.0.0.1:"), "\(failed.stderr)")
        for secret in ["s3cret", "XXSECRET", "token", "ops"] { #expect(!failed.stderr.contains(secret), "\(failed.stderr)") }
        // Nor when an answer names the address: a redirect's Location, a refusal echoing the path.
        for status in [301, 404] {
            let echoing = try HTTPReceiver(answerAll: status)
            defer { echoing.stop() }
            let refused = try Support.run([
                "--quiet", "--alerts", alerts, "--webhook", "http://ops:s3cret@127.0.0.1:\(echoing.port)/hooks/T0/XXSECRET?token=abc",
                Support.surgeLogPath,
            ])
            #expect(refused.status == 1)
            #expect(refused.stderr.contains("HTTP \(status)"), "\(refused.stderr)")
            for secret in ["s3cret", "XXSECRET", "token", "ops"] { #expect(!refused.stderr.contains(secret), "\(refused.stderr)") }
        }
    }

    /// More alerts at once than a stream's queue holds (a batch run raises a whole archive's
    /// at the end), to a receiver that takes them all: none is given up.
    @Test func aBatchOfThousandsOfAlertsReachesAHealthyReceiver() throws {
        let receiver = try HTTPReceiver()
        defer { receiver.stop() }
        // 20 copies of three days with a spike every 90 minutes after the first: 64 alert lines each.
        let directory = Support.temporaryDirectory()
        var series = "timestamp,value\n"
        for minute in 0..<(3 * 1440) {
            let value = minute >= 1440 && minute % 90 < 15 ? 900 : 30 + (minute * 7919) % 11
            series += "\(UTCMinute.format(Int32(24_000_000 + minute)).dropLast()):00Z,\(value)\n"
        }
        var files: [String] = []
        for copy in 0..<20 {
            let path = directory.appendingPathComponent("s\(copy).csv").path
            try series.write(toFile: path, atomically: true, encoding: .utf8)
            files.append(path)
        }
        let alerts = directory.appendingPathComponent("a.jsonl").path
        let result = try Support.run(["detect", "--alerts", alerts, "--webhook", receiver.url] + files)
        #expect(result.status == 0, "\(result.stderr.prefix(500))")
        let written = try lines(alerts)
        #expect(written.count > 1000)
        #expect(receiver.requests.map(\.body) == written)
    }

    /// Failures in the user's words: an https address of a plain-http server, a host that does
    /// not resolve.
    @Test func failuresSayWhatWentWrong() throws {
        let receiver = try HTTPReceiver()
        defer { receiver.stop() }
        let (alerts, _) = paths()
        for (address, reason) in [
            ("https://127.0.0.1:\(receiver.port)", "the TLS handshake"),
            ("http://no-such-host.invalid", "the host name could not be resolved"),
        ] {
            let result = try Support.run([
                "--quiet", "--alerts", alerts, "--webhook", address, "--delivery-attempts", "1", "--delivery-timeout", "2",
                Support.surgeLogPath,
            ])
            #expect(result.status == 1)
            #expect(result.stderr.contains(reason), "\(result.stderr)")
            #expect(!result.stderr.contains("/.build/") && !result.stderr.contains("Error("), "\(result.stderr)")
        }
    }

    /// `detect … | head -1`: the reader of the alerts went away, the receivers still get them all.
    @Test func detectDeliversEvenWhenItsReaderWentAway() throws {
        let receiver = try HTTPReceiver()
        defer { receiver.stop() }
        let directory = Support.temporaryDirectory()
        let buckets = directory.appendingPathComponent("b.csv").path
        #expect(try Support.run(["--quiet", "--buckets", buckets, Support.surgeLogPath]).status == 0)
        let all = try Support.run(["detect", buckets])
        let result = try Support.run(["detect", "--webhook", receiver.url, buckets], shell: "\"$0\" \"$@\" | head -c 10 > /dev/null")
        #expect(result.status == 0)
        #expect(receiver.requests.map(\.body) == all.stdout.split(separator: "\n").map(String.init))
    }

    @Test func detectDeliversToo() throws {
        let receiver = try HTTPReceiver()
        defer { receiver.stop() }
        let directory = Support.temporaryDirectory()
        let buckets = directory.appendingPathComponent("b.csv").path
        let made = try Support.run(["--quiet", "--buckets", buckets, Support.surgeLogPath])
        #expect(made.status == 0)
        let result = try Support.run(["detect", "--webhook", receiver.url, buckets])
        #expect(result.status == 0, "\(result.stderr)")
        let written = result.stdout.split(separator: "\n").map(String.init)
        #expect(!written.isEmpty)
        #expect(receiver.requests.map(\.body) == written)
    }

    /// Alertmanager's side, as a stand-in records it: the episode posted when it opens (with
    /// `endsAt` ahead, so that it stays active), again while it stays open, and with `endsAt`
    /// at its end when it closes; labels to route by and the evidence in the annotations.
    @Test func alertmanagerGetsTheEpisodeOpenKeptAliveAndClosed() throws {
        let receiver = try HTTPReceiver()
        defer { receiver.stop() }
        // Lines through ten minutes after the surge's onset (22:00Z, 17:00 on the server clock).
        let run = try SurgeLogPipe(
            ["--quiet", "--alerts", "-", "--alertmanager", receiver.url + "/", "--instance", "web-7", "--delivery-keep-alive", "0.2"],
            cutAt: "08/Nov/2016:17:10:")
        try run.writeFirstPart()
        // Opened, then posted again at least twice while the pipe stays open.
        #expect(receiver.wait { $0.count >= 3 })
        try run.writeRest()
        #expect(try run.finish() == 0)

        let posts = receiver.requests
        #expect(posts.allSatisfy { $0.path == "/api/v2/alerts" && $0.headers["content-type"] == "application/json" })
        let alerts = try posts.map { post -> [String: Any] in
            let array = try JSONSerialization.jsonObject(with: Data(post.body.utf8)) as? [[String: Any]]
            #expect(array?.count == 1)
            return array?.first ?? [:]
        }
        let labels = alerts.map { $0["labels"] as? [String: String] ?? [:] }
        #expect(
            labels.allSatisfy {
                $0 == ["alertname": "LogsurgeSurge", "site": "-", "country": "US", "instance": "web-7", "severity": "warning"]
            }, "\(labels)")
        let first = alerts[0], last = alerts[alerts.count - 1]
        let notes = first["annotations"] as? [String: String] ?? [:]
        for key in ["summary", "description", "baseline", "peak", "ratio", "clients", "raised_at", "start", "log_delay_seconds"] {
            #expect(notes[key] != nil, "annotation \(key) missing: \(notes)")
        }
        #expect(notes["start"] == "2016-11-08T22:00Z")
        #expect(first["startsAt"] as? String == "2016-11-08T22:00:00Z")
        // Open: ends five minutes from now unless posted again. Closed: at the end of its last minute.
        let formatter = ISO8601DateFormatter()
        let opensUntil = formatter.date(from: first["endsAt"] as? String ?? "")
        #expect(opensUntil.map { $0.timeIntervalSinceNow > 200 && $0.timeIntervalSinceNow < 400 } == true, "\(first)")
        let closedAt = formatter.date(from: last["endsAt"] as? String ?? "")
        #expect(closedAt.map { $0.timeIntervalSince1970 < formatter.date(from: "2016-11-09T00:00:00Z")!.timeIntervalSince1970 } == true)
        #expect(closedAt.map { $0.timeIntervalSince1970.truncatingRemainder(dividingBy: 60) == 0 } == true)
    }
}

/// Against a real Prometheus Alertmanager (Debian's `prometheus-alertmanager`, which `.ci/run`
/// installs), started on loopback: the surge is listed active with its labels while it goes
/// on, then resolved once it closes, and Alertmanager routes it on (to a webhook receiver, as it
/// would to e-mail or Slack), firing and then resolved.
@Suite(
    .tags(.launchesBinary), .enabled(if: Support.executable != nil, "the logsurge executable is not built"),
    .enabled(if: AlertmanagerBinary.path != nil, "prometheus-alertmanager is not installed"),
    .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/curl"), "curl is not installed"))
struct AlertmanagerCLITests {

    /// The alerts Alertmanager lists (`GET /api/v2/alerts`, with curl), nil while it does not answer.
    private func listed(_ base: String) -> [[String: Any]]? {
        guard let (status, data) = try? Support.tool("/usr/bin/curl", ["-sf", "--max-time", "5", base + "/api/v2/alerts"]),
            status == 0
        else { return nil }
        return try? JSONSerialization.jsonObject(with: data) as? [[String: Any]]
    }

    private func waitFor(seconds: Double = 30, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return false
    }

    @Test func theSurgeIsActiveWhileItLastsAndResolvedWhenItCloses() throws {
        let notified = try HTTPReceiver()
        defer { notified.stop() }
        let directory = Support.temporaryDirectory()
        let config = directory.appendingPathComponent("alertmanager.yml").path
        try """
        route:
          receiver: on-call
          group_by: [site]
          group_wait: 1s
          group_interval: 1s
          repeat_interval: 1h
        receivers:
          - name: on-call
            webhook_configs:
              - url: \(notified.url)/notify
                send_resolved: true
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let port = HTTPReceiver.closedPortURL().split(separator: ":").last.map(String.init)!
        let base = "http://127.0.0.1:\(port)"
        let alertmanager = Process()
        alertmanager.executableURL = URL(fileURLWithPath: AlertmanagerBinary.path!)
        alertmanager.arguments = [
            "--config.file=\(config)", "--storage.path=\(directory.appendingPathComponent("data").path)",
            "--web.listen-address=127.0.0.1:\(port)", "--cluster.listen-address=",
        ]
        alertmanager.standardOutput = FileHandle.nullDevice
        alertmanager.standardError = FileHandle.nullDevice
        try alertmanager.run()
        defer {
            alertmanager.terminate()
            alertmanager.waitUntilExit()
        }
        try #require(waitFor { listed(base) != nil }, "Alertmanager did not start on \(base)")

        let run = try SurgeLogPipe(
            ["--quiet", "--alerts", "-", "--alertmanager", base, "--instance", "ci-web"], cutAt: "08/Nov/2016:17:10:")
        try run.writeFirstPart()

        func surge() -> [String: Any]? {
            listed(base)?.first { ($0["labels"] as? [String: String])?["alertname"] == "LogsurgeSurge" }
        }
        #expect(waitFor { surge() != nil }, "the surge never reached Alertmanager")
        let active = surge() ?? [:]
        #expect(
            active["labels"] as? [String: String]
                == ["alertname": "LogsurgeSurge", "site": "-", "country": "US", "instance": "ci-web", "severity": "warning"])
        #expect((active["status"] as? [String: Any])?["state"] as? String == "active")
        #expect((active["annotations"] as? [String: String])?["raised_at"] != nil)
        #expect(waitFor { notified.requests.contains { $0.body.contains("\"status\":\"firing\"") } }, "Alertmanager routed nothing")

        try run.writeRest()
        #expect(try run.finish() == 0)
        // Closed: no longer listed as an active alert, and routed on as resolved.
        #expect(waitFor { surge() == nil })
        #expect(waitFor { notified.requests.contains { $0.body.contains("\"status\":\"resolved\"") } }, "no resolved notification")
    }
}

/// The routing example (`Examples/alertmanager/alertmanager.yml`) is a configuration that
/// Alertmanager's own checker accepts, and routes logsurge's alerts as its comments say.
@Suite(.enabled(if: AlertmanagerBinary.amtool != nil, "amtool (prometheus-alertmanager) is not installed"))
struct AlertmanagerExampleTests {
    private let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Examples/alertmanager/alertmanager.yml").standardized.path

    private func amtool(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let (status, output) = try Support.tool(AlertmanagerBinary.amtool!, arguments)
        return (status, String(decoding: output, as: UTF8.self))
    }

    @Test func amtoolAcceptsTheExample() throws {
        let checked = try amtool(["check-config", example])
        #expect(checked.status == 0, "\(checked.output)")
        #expect(checked.output.contains("SUCCESS"))
    }

    @Test(arguments: [
        (["alertname=LogsurgeSurge", "site=www.example.org", "country=US"], "web-team-mail"),
        (["alertname=LogsurgeSurge", "site=immigration.example.org/apply", "country=US"], "immigration-slack"),
        (["alertname=LogsurgeErrorSpike", "site=www.example.org"], "on-call-slack"),
        (["alertname=LogsurgeDrop", "site=immigration.example.org"], "on-call-slack"),
    ])
    func theExampleRoutesEachKind(labels: [String], receiver: String) throws {
        let routed = try amtool(["config", "routes", "test", "--config.file=" + example] + labels)
        #expect(routed.output.trimmingCharacters(in: .whitespacesAndNewlines) == receiver)
    }
}

/// Debian's Alertmanager and its amtool, when installed.
enum AlertmanagerBinary {
    static let path: String? = ["/usr/bin/prometheus-alertmanager", "/usr/bin/alertmanager"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }
    static let amtool: String? = FileManager.default.isExecutableFile(atPath: "/usr/bin/amtool") ? "/usr/bin/amtool" : nil
}
