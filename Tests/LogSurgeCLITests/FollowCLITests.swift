import Foundation
import LogSurgePipelineTestSupport
import Testing

/// `--follow` and never-ending pipes, end to end: the binary, real files, real signals.
@Suite(.tags(.launchesBinary), .enabled(if: Support.executable != nil, "the logsurge executable is not built"))
struct FollowCLITests {
    private func contents(_ path: String) -> String {
        (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }

    private func summary(_ path: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    }

    /// Follows `path` writing `alerts` until they hold `hold`, then a moment more, then SIGTERM;
    /// the exit status.
    private func followUntil(_ path: String, alerts: String, hold: String) throws -> Int32 {
        let process = Process()
        process.executableURL = Support.executable!
        process.arguments = ["--follow", "--quiet", "--alerts", alerts, path]
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        #expect(Support.eventually { contents(alerts).contains(hold) })
        Thread.sleep(forTimeInterval: 1)
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// The sum of the requests column of a buckets CSV.
    private func bucketRequests(_ path: String) -> Int {
        contents(path).split(separator: "\n").dropFirst().reduce(0) { $0 + Int($1.split(separator: ",")[3])! }
    }

    @Test("following a log through rotation: the alert comes while it runs, SIGINT writes everything")
    func followThroughRotation() throws {
        let directory = Support.temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = String(decoding: Support.surgeLog, as: UTF8.self)
        let lines = log.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map { $0 + "\n" }
        // Three parts: before rotation, after it, and after the surge's onset (22:00Z) + 10 minutes.
        let onsetIndex = lines.firstIndex { $0.contains("08/Nov/2016:17:10:") }!
        let parts = [lines[..<(onsetIndex / 2)], lines[(onsetIndex / 2)..<onsetIndex], lines[onsetIndex...]].map { $0.joined() }
        let path = directory + "/access.log"
        try Data(parts[0].utf8).write(to: URL(fileURLWithPath: path))

        let process = Process()
        process.executableURL = Support.executable!
        process.arguments = [
            "--follow", "--quiet", "--alerts", directory + "/alerts.jsonl", "--summary", directory + "/summary.json",
            "--buckets", directory + "/buckets.csv", path,
        ]
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        // Rotation by rename, as logrotate does it without copytruncate.
        Thread.sleep(forTimeInterval: 0.5)
        try FileManager.default.moveItem(atPath: path, toPath: directory + "/access.log.1")
        try Data(parts[1].utf8).write(to: URL(fileURLWithPath: path))
        Thread.sleep(forTimeInterval: 0.5)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(parts[2].utf8))
        try handle.close()

        // The surge is raised while logsurge still runs.
        #expect(Support.eventually { contents(directory + "/alerts.jsonl").contains("\"state\":\"open\",\"kind\":\"surge\"") })
        #expect(process.isRunning)
        #expect(!FileManager.default.fileExists(atPath: directory + "/summary.json") || contents(directory + "/summary.json").isEmpty)

        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0)
        let run = try summary(directory + "/summary.json")
        #expect(run["lines"] as? Int == lines.count)
        #expect(run["parsed"] as? Int == bucketRequests(directory + "/buckets.csv"))
        #expect((run["input_errors"] as? [Any])?.isEmpty == true)
    }

    @Test("a pipe that never ends: SIGINT and SIGTERM end the run cleanly, with every output written")
    func neverEndingPipe() throws {
        for signal in [SIGINT, SIGTERM] {
            let directory = Support.temporaryDirectory().path
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let process = Process()
            process.executableURL = Support.executable!
            process.arguments = ["--quiet", "--summary", directory + "/summary.json", "--buckets", directory + "/buckets.csv", "-"]
            let input = Pipe()
            process.standardInput = input
            process.standardError = FileHandle.nullDevice
            Support.ignoreBrokenPipes()
            try process.run()
            defer { if process.isRunning { process.terminate() } }
            let log = Support.surgeLog
            try input.fileHandleForWriting.write(contentsOf: Data(log))
            // Let it read what was written; the pipe stays open.
            Thread.sleep(forTimeInterval: 1)
            kill(process.processIdentifier, signal)
            process.waitUntilExit()
            #expect(process.terminationReason == .exit, "signal \(signal)")
            #expect(process.terminationStatus == 0, "signal \(signal)")
            let run = try summary(directory + "/summary.json")
            #expect(run["lines"] as? Int == log.count { $0 == 0x0A }, "signal \(signal)")
            #expect(run["parsed"] as? Int == bucketRequests(directory + "/buckets.csv"), "signal \(signal)")
            try? input.fileHandleForWriting.close()
        }
    }

    @Test("a restarted --follow appends to its alerts: what the file held stays, no episode twice, ids kept")
    func restartAppendsAlerts() throws {
        let directory = Support.temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/access.log"
        try Data(Support.surgeLog).write(to: URL(fileURLWithPath: path))
        let alerts = directory + "/alerts.jsonl"
        func follow(_ path: String = path) throws {
            let status = try followUntil(path, alerts: alerts, hold: "\"kind\":\"surge\"")
            #expect(status == 0)
        }
        try follow()
        let first = contents(alerts)
        #expect(!first.isEmpty)
        // Restarted (a deploy, a reboot): the log is read again from its start.
        try follow()
        let second = contents(alerts)
        #expect(second.hasPrefix(first), "what the file held stays")
        let lines = second.split(separator: "\n").map(String.init)
        let keys = lines.compactMap { line -> String? in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return "\(object["id"] ?? "")/\(object["state"] ?? "")"
        }
        #expect(keys.count == lines.count)
        #expect(Set(keys).count == keys.count, "no event twice: \(keys)")
        // After the rotation the log read holds none of those: the file still does.
        let quiet = directory + "/quiet.log"
        try Data(Support.surgeLog.prefix(2_000)).write(to: URL(fileURLWithPath: quiet))
        try follow(quiet)
        #expect(contents(alerts) == second)
    }

    @Test("stopped inside an episode and restarted: the episode's real end is written, after a torn last line")
    func restartInsideAnEpisode() throws {
        let directory = Support.temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let whole = directory + "/whole.log"
        let generated = try Support.run([
            "generate", "--minutes", "600", "--rate", "60", "--seed", "7",
            "--event", "surge:US:10:2016-11-01T05:00Z:60", "--output", whole,
        ])
        #expect(generated.status == 0)
        let batch = try Support.run(["--quiet", "--alerts", "-", whole])
        let batchClose = try #require(batch.stdout.split(separator: "\n").first { $0.contains("\"state\":\"closed\"") })
        let text = try String(contentsOfFile: whole, encoding: .utf8)
        let cut = text.range(of: "01/Nov/2016:00:15:")!.lowerBound  // 05:15Z, the log is at -0500
        let head = text[..<text[..<cut].lastIndex(of: "\n")!]
        let path = directory + "/access.log"
        try Data((head + "\n").utf8).write(to: URL(fileURLWithPath: path))
        let alerts = directory + "/alerts.jsonl"
        func follow(until: String) throws { _ = try followUntil(path, alerts: alerts, hold: until) }
        try follow(until: "\"state\":\"open\"")
        #expect(!contents(alerts).contains("\"state\":\"closed\""), "stopping is not the episode's end")
        // The last line torn (a run killed while writing it), then the rest of the log.
        var torn = contents(alerts)
        torn.removeLast()
        try Data(torn.utf8).write(to: URL(fileURLWithPath: alerts))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(text[text[..<cut].lastIndex(of: "\n")!...].dropFirst().utf8))
        try handle.close()
        try follow(until: "\"state\":\"closed\"")
        let lines = contents(alerts).split(separator: "\n")
        #expect(lines.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) != nil }, "every line is JSON")
        let close = try #require(lines.first { $0.contains("\"state\":\"closed\"") })
        #expect(close == batchClose)
    }

    @Test("a FIFO at a followed path does not block: SIGTERM ends the run at once")
    func fifoAtThePath() throws {
        let directory = Support.temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/access.log"
        #expect(mkfifo(path, 0o644) == 0)
        let process = Process()
        process.executableURL = Support.executable!
        process.arguments = ["--follow", "--quiet", "--summary", directory + "/summary.json", path]
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        Thread.sleep(forTimeInterval: 0.5)
        kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        #expect(!process.isRunning, "it ended within 10 s of SIGTERM")
        process.waitUntilExit()
        #expect(process.terminationStatus == 1, "never a regular file: an input error")
        let run = try summary(directory + "/summary.json")
        #expect((run["input_errors"] as? [[String: Any]])?.first?["message"] as? String == "not a regular file: cannot be followed")
    }

    @Test("--follow needs named files")
    func usage() throws {
        let directory = Support.temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for arguments in [["--follow"], ["-F", "-"], ["-F", directory]] {
            let result = try Support.run(arguments)
            #expect(result.status == 2, "\(arguments)")
            #expect(result.stderr.contains("--follow"), "\(arguments): \(result.stderr)")
        }
    }
}
