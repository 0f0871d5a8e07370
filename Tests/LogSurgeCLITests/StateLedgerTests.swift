import Foundation
import GRDB
import LogSurge
import LogSurgeCore
import LogSurgePipelineTestSupport
@testable import LogSurgeState
import Testing

/// `--state` as a ledger: each of the ways an unattended nightly run met its files (found by an
/// adversarial review, each reproduced here) ends with every line of every file counted exactly
/// once, which `logsurge state` shows.
@Suite(.tags(.launchesBinary), .enabled(if: Support.executable != nil, "the logsurge executable is not built"))
struct StateLedgerCLITests {
    private let fileManager = FileManager.default

    /// `count` combined lines, one a second from `start` (minutes since the epoch), from US clients.
    private func lines(_ count: Int, from first: Int = 0, start: Int = 24_566_400) -> [UInt8] {
        var text = ""
        for index in first..<(first + count) {
            let date = Date(timeIntervalSince1970: Double(start * 60 + index))
            text +=
                "8.8.\(index % 200).\(index % 250 + 1) - - [\(Self.logTime(date)) +0000] \"GET /page/\(index) HTTP/1.1\" 200 \(100 + index % 900) \"-\" \"test/1.0\"\n"
        }
        return Array(text.utf8)
    }

    /// A log's time of `date` (UTC), as Common Log Format writes it.
    private static func logTime(_ date: Date) -> String {
        date.formatted(
            Date.VerbatimFormatStyle(
                format:
                    "\(day: .twoDigits)/\(month: .abbreviated)/\(year: .defaultDigits):\(hour: .twoDigits(clock: .twentyFourHour, hourCycle: .zeroBased)):\(minute: .twoDigits):\(second: .twoDigits)",
                locale: Locale(identifier: "en_US_POSIX"), timeZone: TimeZone(identifier: "UTC")!,
                calendar: Calendar(identifier: .gregorian)))
    }

    private func write(_ path: String, _ bytes: [UInt8]) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    private func append(_ path: String, _ bytes: [UInt8]) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(bytes))
        try handle.close()
    }

    /// What `logsurge state FILE` says.
    private func stateOf(_ path: String) throws -> [String: Any] {
        let result = try Support.run(["state", path])
        #expect(result.status == 0, "\(result.stderr)")
        return try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    }

    private func requests(_ path: String) throws -> Int {
        try stateOf(path)["requests"] as? Int ?? -1
    }

    /// A `--state` run in this process, as the command runs it, with `meanwhile` done between
    /// the inputs' identification and their reading.
    private func runInProcess(_ statePath: String, _ paths: [String], meanwhile: () throws -> Void) throws -> Analysis {
        let state = try RunState(path: statePath)
        var configuration = Support.configuration()
        let inputs = try state.prepare(&configuration, paths: paths)
        configuration.detection = nil
        try meanwhile()
        let analysis = AnalysisPipeline(configuration: configuration).run(paths: paths)
        try state.record(inputs, analysis: analysis)
        return analysis
    }

    private func night(_ state: String, _ paths: [String], extra: [String] = []) throws -> Support.RunResult {
        let result = try Support.run(["--quiet", "--state", state] + extra + paths)
        #expect(!result.timedOut)
        return result
    }

    @Test("a gzip file still being written is counted up to its damage once, and the rest when it is whole")
    func gzipBeingWritten() throws {
        let directory = Support.temporaryDirectory().path
        defer { try? fileManager.removeItem(atPath: directory) }
        let content = lines(3_000)
        let whole = Support.gzip(content)
        let logs = directory + "/logs"
        try fileManager.createDirectory(atPath: logs, withIntermediateDirectories: true)
        let archive = logs + "/access.log.1.gz"
        let state = directory + "/state.db"
        // logrotate compressing while the night's run starts: half the archive, twice.
        try write(archive, Array(whole.prefix(whole.count / 2)))
        let first = try night(state, [logs])
        #expect(first.status == 1, "the damage is reported: \(first.stderr)")
        let partial = try requests(state)
        #expect(partial > 0 && partial < 3_000)
        _ = try night(state, [logs])
        #expect(try requests(state) == partial, "the readable part is never counted again")
        // The next night the archive is whole.
        try write(archive, whole)
        let last = try night(state, [logs])
        #expect(last.status == 0, "\(last.stderr)")
        #expect(try requests(state) == 3_000)
    }

    @Test("a last line still being written is left for the next run, in a plain file and in a gzip one")
    func halfWrittenLine() throws {
        let directory = Support.temporaryDirectory().path
        defer { try? fileManager.removeItem(atPath: directory) }
        let state = directory + "/state.db"
        let log = directory + "/access.log"
        let content = lines(100)
        // The server is in the middle of line 100.
        try write(log, Array(content.dropLast(20)))
        let first = try night(state, [log], extra: ["--summary", "\(directory)/summary.json"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("line_held_back"), "\(first.stderr)")
        #expect(try requests(state) == 99)
        // Nothing written since: said again.
        let again = try night(state, [log])
        #expect(again.stderr.contains("line_held_back"), "\(again.stderr)")
        try append(log, Array(content.suffix(20)) + lines(50, from: 100))
        let complete = try night(state, [log])
        #expect(!complete.stderr.contains("line_held_back"), "\(complete.stderr)")
        #expect(try requests(state) == 150)
        let summary = try String(contentsOfFile: "\(directory)/summary.json", encoding: .utf8)
        #expect(summary.contains("\"line_held_back\""))

        // A gzip stream cut inside its last line (compression still going): the same.
        let gzState = directory + "/gz.db"
        let archive = directory + "/old.log.gz"
        let gzipped = Support.gzip(content)
        try write(archive, Array(gzipped.prefix(gzipped.count - 12)))
        _ = try night(gzState, [archive])
        let partial = try requests(gzState)
        try write(archive, gzipped)
        _ = try night(gzState, [archive])
        #expect(partial < 100)
        #expect(try requests(gzState) == 100)
    }

    @Test("one file under several names, and a file beside its compressed copy, are read once")
    func oneInputManyNames() throws {
        let directory = Support.temporaryDirectory().path
        defer { try? fileManager.removeItem(atPath: directory) }
        let logs = directory + "/logs"
        try fileManager.createDirectory(atPath: logs, withIntermediateDirectories: true)
        try write(logs + "/access.log", lines(500))
        try fileManager.createSymbolicLink(atPath: directory + "/link.log", withDestinationPath: logs + "/access.log")
        let names = [logs, logs + "/access.log", directory + "/link.log", logs + "/../logs/./access.log"]
        // Without --state too: a run counts each file once.
        let plain = try Support.run(["--quiet", "--summary", "-"] + names)
        let summary = try #require(JSONSerialization.jsonObject(with: Data(plain.stdout.utf8)) as? [String: Any])
        #expect(summary["parsed"] as? Int == 500, "\(plain.stderr)")
        #expect(plain.stderr.contains("under another name"))
        let state = directory + "/state.db"
        _ = try night(state, names)
        #expect(try requests(state) == 500)

        // access.log.1 and access.log.1.gz side by side while logrotate compresses.
        let rotated = directory + "/rotated"
        try fileManager.createDirectory(atPath: rotated, withIntermediateDirectories: true)
        let day = lines(2_000, start: 24_567_000)
        try write(rotated + "/access.log.1", day)
        try write(rotated + "/access.log.1.gz", Array(Support.gzip(day).prefix(5_000)))
        let copies = try night(directory + "/copies.db", [rotated])
        #expect(copies.stderr.contains("holds the same log as"), "\(copies.stderr)")
        #expect(try requests(directory + "/copies.db") == 2_000)
        // The next night only the archive is left, whole: nothing new in it.
        try fileManager.removeItem(atPath: rotated + "/access.log.1")
        try write(rotated + "/access.log.1.gz", Support.gzip(day))
        _ = try night(directory + "/copies.db", [rotated])
        #expect(try requests(directory + "/copies.db") == 2_000)

        // The same with a log shorter than the 4 KiB a fingerprint reads, seen for the first time
        // with its copy half written.
        let small = directory + "/small"
        try fileManager.createDirectory(atPath: small, withIntermediateDirectories: true)
        let few = lines(20, start: 24_568_000)
        try write(small + "/access.log.1", few)
        let fewGzip = Support.gzip(few)
        try write(small + "/access.log.1.gz", Array(fewGzip.prefix(fewGzip.count * 2 / 3)))
        let first = try night(directory + "/small.db", [small])
        #expect(first.stderr.contains("holds the same log as"), "\(first.stderr)")
        #expect(try requests(directory + "/small.db") == 20)
    }

    @Test("a second run waits for the one holding the state, or with --state-wait gives up before reading")
    func overlappingRuns() throws {
        let directory = Support.temporaryDirectory().path
        defer { try? fileManager.removeItem(atPath: directory) }
        let state = directory + "/state.db"
        let log = directory + "/access.log"
        try write(log, lines(1_000))
        _ = try night(state, [log])
        // Another run holds the state (this test takes its lock as a run would).
        let holder = open(state, O_RDWR)
        #expect(holder >= 0)
        #expect(flock(holder, LOCK_EX) == 0)
        try append(log, lines(10, from: 1_000))
        let refused = try night(state, [log], extra: ["--state-wait", "0.3", "--summary", "\(directory)/refused.json"])
        #expect(refused.status == 2, "\(refused.stderr)")
        #expect(refused.stderr.contains("another logsurge run holds this state file"))
        #expect(!fileManager.fileExists(atPath: "\(directory)/refused.json"), "nothing was written")
        // Without --state-wait the run waits, and goes on once the lock is released.
        let waiting = Process()
        waiting.executableURL = Support.executable!
        waiting.arguments = ["--quiet", "--state", state, log]
        let errors = Pipe()
        waiting.standardError = errors
        try Support.launch(waiting)
        Thread.sleep(forTimeInterval: 1)
        #expect(waiting.isRunning, "it waits for the lock")
        close(holder)
        waiting.waitUntilExit()
        #expect(waiting.terminationStatus == 0)
        let said = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(said.contains("waiting"), "\(said)")
        #expect(try requests(state) == 1_010)
    }

    @Test("a log rotated between identification and reading: the file read is the file recorded")
    func rotatedDuringRun() throws {
        let directory = Support.temporaryDirectory().path
        defer { try? fileManager.removeItem(atPath: directory) }
        let logs = directory + "/logs"
        try fileManager.createDirectory(atPath: logs, withIntermediateDirectories: true)
        let log = logs + "/access.log"
        try write(log, lines(1_000))
        let statePath = directory + "/state.db"
        let analysis = try runInProcess(statePath, [logs]) {
            // logrotate runs now: the log is renamed and a new one begins.
            try fileManager.moveItem(atPath: log, toPath: logs + "/access.log.1")
            try write(log, lines(300, from: 5_000))
        }
        #expect(analysis.accounting.parsed == 1_000, "the identified file, through its descriptor")
        // The next night reads the new log whole, and the renamed one not again.
        let next = try night(statePath, [logs])
        #expect(next.status == 0, "\(next.stderr)")
        #expect(try requests(statePath) == 1_300)
    }

    @Test("lines appended while a run reads are read by the next run, none twice")
    func appendedDuringRun() throws {
        let directory = Support.temporaryDirectory().path
        defer { try? fileManager.removeItem(atPath: directory) }
        let log = directory + "/access.log"
        try write(log, lines(1_000))
        let statePath = directory + "/state.db"
        _ = try runInProcess(statePath, [log]) {
            // The server goes on writing after the file was identified, ending inside a line.
            try append(log, Array(lines(200, from: 1_000).dropLast(7)))
        }
        try append(log, Array(lines(200, from: 1_000).suffix(7)))
        _ = try night(statePath, [log])
        _ = try night(statePath, [log])
        #expect(try requests(statePath) == 1_200)
        let contents = try stateOf(statePath)
        let known = try #require((contents["inputs"] as? [[String: Any]])?.first)
        #expect(known["bytes_consumed"] as? Int == Int((try fileManager.attributesOfItem(atPath: log)[.size] as? NSNumber)?.intValue ?? -1))
        #expect(contents["runs"] as? Int == 3)
    }

    @Test("logsurge state: a missing or foreign file is an error; --buckets exports what it holds")
    func stateCommand() throws {
        let directory = Support.temporaryDirectory().path
        defer { try? fileManager.removeItem(atPath: directory) }
        #expect(try Support.run(["state", directory + "/missing.db"]).status == 2)
        try write(directory + "/text.db", Array("not a database".utf8))
        #expect(try Support.run(["state", directory + "/text.db"]).status == 2)
        let log = directory + "/access.log"
        try write(log, lines(180))
        _ = try night(directory + "/state.db", [log])
        let exported = try Support.run(["state", directory + "/state.db", "--buckets", directory + "/b.csv"])
        #expect(exported.status == 0)
        let csv = try String(contentsOfFile: directory + "/b.csv", encoding: .utf8).split(separator: "\n")
        #expect(csv.count == 1 + 3, "three minutes of one site and country")
        let summed = csv.dropFirst().compactMap { Int($0.split(separator: ",")[3]) }.reduce(0, +)
        #expect(summed == 180)
        let contents = try stateOf(directory + "/state.db")
        #expect(contents["first_minute"] as? String == "2016-09-16T00:00Z")
        #expect(contents["last_minute"] as? String == "2016-09-16T00:02Z")
    }

    @Test("minutes older than five weeks become daily totals: the requests stay exact, the minutes kept are exported")
    func foldedIntoDays() throws {
        let directory = Support.temporaryDirectory().path
        defer { try? fileManager.removeItem(atPath: directory) }
        let state = directory + "/state.db"
        let start = 24_566_400  // 2016-09-16T00:00Z
        try write(directory + "/old.log", lines(500, start: start))
        _ = try night(state, [directory + "/old.log"])
        // Forty days later.
        try write(directory + "/new.log", lines(300, start: start + 40 * 1440))
        _ = try night(state, [directory + "/old.log", directory + "/new.log"])
        let contents = try stateOf(state)
        #expect(contents["requests"] as? Int == 800)
        #expect(contents["first_minute"] as? String == "2016-09-16T00:00Z")
        #expect(contents["minutes_from"] as? String == "2016-10-26T00:00Z")
        #expect(contents["last_minute"] as? String == "2016-10-26T00:04Z")
        let exported = try Support.run(["state", state, "--buckets", directory + "/b.csv"])
        #expect(exported.status == 0)
        let rows = try String(contentsOfFile: directory + "/b.csv", encoding: .utf8).split(separator: "\n").dropFirst()
        #expect(rows.compactMap { Int($0.split(separator: ",")[3]) }.reduce(0, +) == 300)
        // A damaged daily total is found by logsurge state, which checks every row.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: state))
        let site = try #require(bytes.range(of: Data("US".utf8)))
        bytes.replaceSubrange(site, with: Data("FR".utf8))
        try bytes.write(to: URL(fileURLWithPath: directory + "/damaged.db"))
        let damaged = try Support.run(["state", directory + "/damaged.db"])
        #expect(damaged.status == 2)
        #expect(damaged.stderr.contains("damaged"), "\(damaged.stderr)")
    }

    /// A seeded operator: appends (sometimes ending inside a line), rotations by rename with
    /// delayed compression (and the compressed copy still being written beside the plain one),
    /// copytruncate, runs, runs killed part way, and runs overlapping; at the end `logsurge
    /// state` must hold every line written exactly once.
    @Test("a seeded operator: every line written is in the state exactly once", arguments: [11, 12, 13])
    func seededOperator(seed: UInt64) throws {
        let directory = Support.temporaryDirectory().path
        defer { try? fileManager.removeItem(atPath: directory) }
        let logs = directory + "/logs"
        try fileManager.createDirectory(atPath: logs, withIntermediateDirectories: true)
        let state = directory + "/state.db"
        let live = logs + "/access.log"
        var generator = SeededGenerator(seed: seed)
        var written = 0
        var pending: [UInt8] = []  // the rest of a line written in part
        var rotations = 0
        var actions: [String] = []
        func appendLines() throws {
            let count = Int.random(in: 1...120, using: &generator)
            var bytes = pending + lines(count, from: written + 1_000_000 * Int(seed))
            written += count
            pending = []
            // Sometimes the server is inside a line when the others look.
            if Bool.random(using: &generator), let cut = Optional(Int.random(in: 1...40, using: &generator)) {
                pending = Array(bytes.suffix(cut))
                bytes.removeLast(cut)
            }
            if fileManager.fileExists(atPath: live) { try append(live, bytes) } else { try write(live, bytes) }
        }
        /// The rotated files, oldest last: access.log.N or .N.gz.
        func shift() throws {
            let names = (try fileManager.contentsOfDirectory(atPath: logs)).filter { $0.hasPrefix("access.log.") }
            for name in names.sorted(by: { number($0) > number($1) }) {
                let next = name.replacingOccurrences(of: ".\(number(name))", with: ".\(number(name) + 1)")
                try fileManager.moveItem(atPath: logs + "/" + name, toPath: logs + "/" + next)
            }
        }
        func number(_ name: String) -> Int { Int(name.split(separator: ".")[2]) ?? 0 }
        func finishCompression() throws {
            // logrotate's delaycompress: the plain .N becomes .N.gz (whole), the plain goes.
            for name in try fileManager.contentsOfDirectory(atPath: logs)
            where name.hasPrefix("access.log.") && !name.hasSuffix(".gz") && number(name) >= 2 {
                let plain = logs + "/" + name
                try write(plain + ".gz", Support.gzip(Array(try Data(contentsOf: URL(fileURLWithPath: plain)))))
                try fileManager.removeItem(atPath: plain)
            }
        }
        func run(killAfter: Double? = nil) throws {
            if let killAfter {
                let process = Process()
                process.executableURL = Support.executable!
                process.arguments = ["--quiet", "--state", state, logs]
                process.standardError = FileHandle.nullDevice
                try Support.launch(process)
                Thread.sleep(forTimeInterval: killAfter)
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            } else {
                let result = try night(state, [logs])
                #expect(result.status == 0 || result.status == 1, "\(actions): \(result.stderr)")
            }
        }
        for _ in 0..<30 {
            switch Int.random(in: 0..<10, using: &generator) {
            case 0...3:
                actions.append("append")
                try appendLines()
            case 4:
                // Rotation by rename; the server goes on writing to the renamed file a little.
                actions.append("rename")
                try finishCompression()
                try shift()
                if fileManager.fileExists(atPath: live) {
                    try fileManager.moveItem(atPath: live, toPath: logs + "/access.log.1")
                    if !pending.isEmpty { try append(logs + "/access.log.1", pending); pending = [] }
                }
                rotations += 1
            case 5:
                // copytruncate: the copy, then the live file emptied.
                actions.append("copytruncate")
                try finishCompression()
                try shift()
                if fileManager.fileExists(atPath: live) {
                    if !pending.isEmpty { try append(live, pending); pending = [] }
                    try fileManager.copyItem(atPath: live, toPath: logs + "/access.log.1")
                    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: live))
                    try handle.truncate(atOffset: 0)
                    try handle.close()
                }
            case 6:
                // Compression in progress: part of the .gz beside the plain file.
                actions.append("compressing")
                for name in try fileManager.contentsOfDirectory(atPath: logs)
                where name.hasPrefix("access.log.") && !name.hasSuffix(".gz") && number(name) >= 2 {
                    let whole = Support.gzip(Array(try Data(contentsOf: URL(fileURLWithPath: logs + "/" + name))))
                    try write(logs + "/" + name + ".gz", Array(whole.prefix(whole.count / 2)))
                }
            case 7:
                actions.append("killed")
                try run(killAfter: Double.random(in: 0...0.3, using: &generator))
            default:
                actions.append("run")
                try run()
            }
        }
        // The server finishes its line; everything is compressed; two last runs.
        if !pending.isEmpty { try append(live, pending); pending = [] }
        try finishCompression()
        try run()
        try run()
        #expect(try requests(state) == written, "seed \(seed): \(actions)")
    }

    @Test("short logs: a part of a .gz beside a counted log, a cut .gz completed; twin files and a shared first line are two logs")
    func shortCopies() throws {
        let directory = Support.temporaryDirectory().path
        defer { try? fileManager.removeItem(atPath: directory) }
        // A .gz still being written, of less than 4 KiB of content, beside the log already counted.
        let logs = directory + "/logs"
        try fileManager.createDirectory(atPath: logs, withIntermediateDirectories: true)
        let day = lines(3_000)
        try write(logs + "/access.log", day)
        _ = try night(directory + "/a.db", [logs])
        try fileManager.moveItem(atPath: logs + "/access.log", toPath: logs + "/access.log.1")
        let whole = Support.gzip(day)
        try write(logs + "/access.log.1.gz", Array(whole.prefix(600)))
        _ = try night(directory + "/a.db", [logs])
        #expect(try requests(directory + "/a.db") == 3_000)
        try fileManager.removeItem(atPath: logs + "/access.log.1")
        try write(logs + "/access.log.1.gz", whole)
        _ = try night(directory + "/a.db", [logs])
        #expect(try requests(directory + "/a.db") == 3_000)

        // A .gz cut short and alone (its first lines only), read again once whole.
        let archive = directory + "/access.log.2.gz"
        try write(archive, Array(whole.prefix(600)))
        _ = try night(directory + "/b.db", [archive])
        try write(archive, whole)
        _ = try night(directory + "/b.db", [archive])
        #expect(try requests(directory + "/b.db") == 3_000)

        // Two plain files with the same few lines (two servers' health checks): two logs; one grows.
        let twins = directory + "/twins"
        try fileManager.createDirectory(atPath: twins, withIntermediateDirectories: true)
        try write(twins + "/a.log", lines(3))
        try write(twins + "/b.log", lines(3))
        _ = try night(directory + "/c.db", [twins])
        try append(twins + "/a.log", lines(1, from: 3))
        _ = try night(directory + "/c.db", [twins])
        _ = try night(directory + "/c.db", [twins])
        #expect(try requests(directory + "/c.db") == 7)

        // A new small log that begins with the line another small log holds is another log.
        let short = directory + "/short"
        try fileManager.createDirectory(atPath: short, withIntermediateDirectories: true)
        try write(short + "/a.log", lines(1))
        _ = try night(directory + "/d.db", [short])
        try append(short + "/a.log", lines(1, from: 300))
        try write(short + "/b.log", lines(1) + lines(10, from: 100))
        _ = try night(directory + "/d.db", [short])
        _ = try night(directory + "/d.db", [short])
        #expect(try requests(directory + "/d.db") == 13)
    }

    @Test("only the files identified are read: one empty then, or appearing meanwhile, waits for the next run")
    func identifiedOnly() throws {
        let directory = Support.temporaryDirectory().path
        defer { try? fileManager.removeItem(atPath: directory) }
        let logs = directory + "/logs"
        try fileManager.createDirectory(atPath: logs, withIntermediateDirectories: true)
        try write(logs + "/a.log", lines(100))
        try write(logs + "/empty.log", [])
        let statePath = directory + "/state.db"
        let analysis = try runInProcess(statePath, [logs]) {
            // Written after the run identified its files: the empty one, and a new one.
            try append(logs + "/empty.log", lines(40, from: 1_000))
            try write(logs + "/new.log", lines(30, from: 2_000))
        }
        #expect(analysis.accounting.parsed == 100)
        _ = try night(statePath, [logs])
        _ = try night(statePath, [logs])
        #expect(try requests(statePath) == 170)
        // A FIFO is not a state file: an error at once, not a wait.
        #expect(mkfifo(directory + "/fifo.db", 0o644) == 0)
        let fifo = try Support.run(["state", directory + "/fifo.db"], timeLimit: 10)
        #expect(!fifo.timedOut)
        #expect(fifo.status == 2)
    }

    @Test("damaged daily totals and old minutes: found when a run reaches them, outputs written, nothing recorded")
    func damageFoundLate() throws {
        let directory = Support.temporaryDirectory().path
        defer { try? fileManager.removeItem(atPath: directory) }
        let state = directory + "/state.db"
        let start = 24_566_400  // 2016-09-16T00:00Z
        let early = lines(200, start: start)
        try write(directory + "/old.log", Array(early.suffix(from: early.count / 2)))
        try write(directory + "/new.log", lines(300, start: start + 40 * 1440))
        _ = try night(state, [directory + "/old.log", directory + "/new.log"])
        // A daily total changed behind logsurge's back.
        let queue = try DatabaseQueue(path: state)
        try queue.write { try $0.execute(sql: "UPDATE day_bucket SET requests = requests + 1000") }
        try queue.close()
        // The early half of the old day turns up: its minutes fold into the damaged day.
        try write(directory + "/early.log", Array(early.prefix(early.count / 2)))
        let late = try night(
            state, [directory + "/old.log", directory + "/new.log", directory + "/early.log"],
            extra: ["--summary", directory + "/summary.json"])
        #expect(late.status == 1, "\(late.stderr)")
        #expect(late.stderr.contains("damaged"), "\(late.stderr)")
        #expect(fileManager.fileExists(atPath: directory + "/summary.json"), "the outputs are written")
        #expect(try Support.run(["state", state]).status == 2, "the damage is still there to be found")
    }

    @Test("the daily totals hold every day, so a fold only deletes minutes; logsurge state checks them against the minutes kept")
    func dailyTotalsAreTheSumsOfTheirMinutes() throws {
        let directory = Support.temporaryDirectory().path
        defer { try? fileManager.removeItem(atPath: directory) }
        let (state, start) = try nightsFortyDaysApart(in: directory)
        let queue = try DatabaseQueue(path: state, configuration: Self.checksummed)
        let (days, foldedBefore) = try queue.read { db in
            (
                try Row.fetchAll(db, sql: "SELECT day, sum(requests) AS requests FROM day_bucket GROUP BY day ORDER BY day")
                    .map { [$0["day"] as Int, $0["requests"] as Int] },
                try Int.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'folded_before'")
            )
        }
        #expect(days == [[17060, 500], [17100, 300]], "the folded day and the day still kept as minutes")
        #expect(foldedBefore == start + 5 * 1440, "minutes 35 days before the last are deleted, by whole days")
        #expect(try stateOf(state)["requests"] as? Int == 800)
        // A daily total of a kept day changed with its checksum (as a bug would): the rows are
        // sound, their sum is not.
        try queue.write { db in
            try db.execute(
                sql: """
                    UPDATE day_bucket SET requests = requests + 7,
                        checksum = logsurge_row_checksum(day, site, country, requests + 7, status_2xx, status_3xx, status_4xx, status_5xx, bytes)
                    WHERE day = 17100
                    """)
        }
        try queue.close()
        let checked = try Support.run(["state", state])
        #expect(checked.status == 2)
        #expect(
            checked.stderr.contains("daily totals of 1 days (the first 2016-10-26) are not the sums of their minutes"), "\(checked.stderr)")
    }

    @Test(
        "a night that adds a line folds a thousand rows, not the day that aged out; the day is folded over nights, counted once throughout")
    func foldFollowsWhatARunAdds() throws {
        let directory = Support.temporaryDirectory().path
        defer { try? fileManager.removeItem(atPath: directory) }
        let state = directory + "/state.db"
        let start = 24_566_400  // 2016-09-16T00:00Z
        // A day of one request a minute: 1,440 minute rows.
        let day: String = (0..<1_440).map { minute -> String in
            let date = Date(timeIntervalSince1970: Double((start + minute) * 60))
            return "8.8.8.8 - - [\(Self.logTime(date)) +0000] \"GET / HTTP/1.1\" 200 100 \"-\" \"test/1.0\"\n"
        }.joined()
        try write(directory + "/old.log", Array(day.utf8))
        _ = try night(state, [directory + "/old.log"])
        let queue = try DatabaseQueue(path: state, configuration: Self.checksummed)
        defer { try? queue.close() }
        let held = {
            try queue.read { db in
                (
                    try Int.fetchOne(db, sql: "SELECT count(*) FROM bucket") ?? -1,
                    try Int.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'folded_before'")
                )
            }
        }
        #expect(try held().0 == 1_440)
        #expect(try queue.read { try Int.fetchOne($0, sql: "PRAGMA user_version") } == 6, "a new state is of the newest version")
        // Forty days later, a line a night: the day aged out, and each night folds its budget.
        let budget = RunState.foldBudget(added: 1)
        try write(directory + "/new.log", lines(1, start: start + 40 * 1440))
        #expect(try night(state, [directory + "/old.log", directory + "/new.log"]).status == 0)
        let (rows, foldedBefore) = try held()
        #expect(rows == 1_440 - budget + 1, "the fold deletes its budget of rows, the oldest first")
        #expect(foldedBefore == start + budget)
        // Half folded, the day is read as its daily total: every request once, and checked.
        var contents = try stateOf(state)
        #expect(contents["requests"] as? Int == 1_441)
        #expect(contents["first_minute"] as? String == "2016-09-16T00:00Z")
        #expect(contents["minutes_from"] as? String == "2016-10-26T00:00Z")
        try append(directory + "/new.log", lines(1, from: 60, start: start + 40 * 1440))
        #expect(try night(state, [directory + "/old.log", directory + "/new.log"]).status == 0)
        #expect(try held() == (2, start + 5 * 1440), "the rest of the day is folded the next night, to the cutoff 35 days before")
        contents = try stateOf(state)
        #expect(contents["requests"] as? Int == 1_442)
        // A run that adds a day of rows folds at least as many as it adds.
        #expect(RunState.foldBudget(added: 1_440) >= 2 * 1_440)
        // Version 5 says a day may be half folded (a build that reads version 4 at most refuses
        // it rather than count such a day twice); a version 4 file is read as it is, and the
        // next run upgrades it (to version 6: the minutes' clients).
        #expect(try queue.read { try Int.fetchOne($0, sql: "PRAGMA user_version") } == 6)
        try queue.write { db in
            try Self.withoutClients(db)
            try db.execute(sql: "PRAGMA user_version = 4")
        }
        #expect(try stateOf(state)["requests"] as? Int == 1_442)
        try append(directory + "/new.log", lines(1, from: 120, start: start + 40 * 1440))
        #expect(try night(state, [directory + "/old.log", directory + "/new.log"]).status == 0)
        #expect(try queue.read { try Int.fetchOne($0, sql: "PRAGMA user_version") } == 6)
        #expect(try stateOf(state)["requests"] as? Int == 1_443)
    }

    @Test("a version 3 state (a day as minutes or as its total) is read as it is and upgraded by the next run")
    func upgradeFromVersion3() throws {
        let directory = Support.temporaryDirectory().path
        defer { try? fileManager.removeItem(atPath: directory) }
        let (state, start) = try nightsFortyDaysApart(in: directory)
        let before = try stateOf(state)
        // As version 3 left it: totals of the folded days only.
        let queue = try DatabaseQueue(path: state, configuration: Self.checksummed)
        try queue.write { db in
            try Self.withoutClients(db)
            try db.execute(
                sql: """
                    DELETE FROM day_bucket WHERE day * 1440 >= (SELECT value FROM meta WHERE key = 'folded_before');
                    DELETE FROM meta WHERE key = 'folded_before';
                    PRAGMA user_version = 3;
                    """)
        }
        try queue.close()
        let asVersion3 = try stateOf(state)
        for key in ["requests", "first_minute", "last_minute", "minutes_from"] {
            #expect("\(asVersion3[key] ?? "-")" == "\(before[key] ?? "-")", "\(key)")
        }
        try append(directory + "/new.log", lines(60, from: 300, start: start + 40 * 1440))
        let upgraded = try night(state, [directory + "/old.log", directory + "/new.log"])
        #expect(upgraded.status == 0, "\(upgraded.stderr)")
        let after = try stateOf(state)
        #expect(after["requests"] as? Int == 860)
        #expect(after["first_minute"] as? String == "2016-09-16T00:00Z")
        #expect(after["minutes_from"] as? String == "2016-10-26T00:00Z")
    }

    @Test("a version 3 state upgraded, then an older archive: its minutes are counted once, logsurge state agrees")
    func upgradeFromVersion3ThenAnOlderArchive() throws {
        let directory = Support.temporaryDirectory().path
        defer { try? fileManager.removeItem(atPath: directory) }
        let state = directory + "/state.db"
        let start = 24_566_400  // 2016-09-16T00:00Z
        try write(directory + "/a.log", lines(1_440, start: start + 10 * 1440))
        try write(directory + "/c.log", lines(300, start: start + 3 * 1440))
        _ = try night(state, [directory + "/a.log"])
        // As version 3 left a state that never folded: no daily totals at all.
        let queue = try DatabaseQueue(path: state, configuration: Self.checksummed)
        try queue.write { db in
            try Self.withoutClients(db)
            try db.execute(sql: "DELETE FROM day_bucket; DELETE FROM meta WHERE key = 'folded_before'; PRAGMA user_version = 3")
        }
        try queue.close()
        let late = try night(state, [directory + "/a.log", directory + "/c.log"])
        #expect(late.status == 0, "\(late.stderr)")
        #expect(try requests(state) == 1_740)
    }

    @Test("nights that agree on nothing but their bytes: a name in two spellings, bytes past 2^63, both are kept as they came")
    func dailyTotalsOfOddNightsStaySound() throws {
        let directory = Support.temporaryDirectory().path
        defer { try? fileManager.removeItem(atPath: directory) }
        let state = directory + "/state.db"
        // café.example composed one night, decomposed the next (JSON lines keep the bytes of
        // the Host), and a response of 2^64 - 1 bytes, then one of 512 on the same day.
        func json(_ time: String, _ host: String, bytes: String) -> [UInt8] {
            Array(
                ("{\"time_iso8601\":\"\(time)\",\"remote_addr\":\"8.8.8.8\",\"request\":\"GET / HTTP/1.1\",\"status\":200,"
                    + "\"body_bytes_sent\":\(bytes),\"http_referer\":\"\",\"http_user_agent\":\"x\",\"host\":\"\(host)\"}\n").utf8)
        }
        try write(directory + "/n1.json", json("2016-09-16T00:00:00+00:00", "caf\u{E9}.example", bytes: "18446744073709551615"))
        try write(directory + "/n2.json", json("2016-09-16T05:00:00+00:00", "cafe\u{301}.example", bytes: "512"))
        let first = try night(state, [directory + "/n1.json"])
        #expect(first.status == 0, "\(first.stderr)")
        let second = try night(state, [directory + "/n1.json", directory + "/n2.json"])
        #expect(second.status == 0, "\(second.stderr)")
        let result = try Support.run(["state", state])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try requests(state) == 2)
    }

    @Test("a detectors' row of the wrong types is damage, said before reading (exit 2), not a crash")
    func detectorRowOfOtherTypes() throws {
        let directory = Support.temporaryDirectory().path
        defer { try? fileManager.removeItem(atPath: directory) }
        let state = directory + "/state.db"
        // Two hours: the detectors' snapshot is taken an hour before the last minute.
        try write(directory + "/a.log", lines(7_200))
        #expect(try night(state, [directory + "/a.log"]).status == 0)
        let queue = try DatabaseQueue(path: state)
        #expect(try queue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM detector") } == 1)
        try queue.close()
        for change in ["data = 5", "through = 'x'", "checksum = 'x'"] {
            try FileManager.default.copyItem(atPath: state, toPath: directory + "/copy.db")
            defer { try? FileManager.default.removeItem(atPath: directory + "/copy.db") }
            let queue = try DatabaseQueue(path: directory + "/copy.db", configuration: Self.checksummed)
            // The checksum recomputed over the new values where it is not the one changed.
            try queue.write { db in
                try db.execute(sql: "UPDATE detector SET \(change)")
                if !change.hasPrefix("checksum") {
                    try db.execute(sql: "UPDATE detector SET checksum = logsurge_row_checksum(name, through, data)")
                }
            }
            try queue.close()
            let result = try night(directory + "/copy.db", [directory + "/a.log"])
            #expect(result.status == 2, "\(change): \(result.stderr)")
            #expect(result.stderr.contains("damaged"), "\(change): \(result.stderr)")
        }
    }

    @Test(
        "minutes forged with their checksums: a negative count is damage (exit 2), a byte total an older version made a real number is read"
    )
    func forgedMinuteValues() throws {
        let directory = Support.temporaryDirectory().path
        defer { try? fileManager.removeItem(atPath: directory) }
        let state = directory + "/state.db"
        try write(directory + "/a.log", lines(600))
        #expect(try night(state, [directory + "/a.log"]).status == 0)
        let checksum = Self.minuteChecksum
        func forged(_ name: String, _ change: String) throws -> String {
            let copy = directory + "/" + name
            try? FileManager.default.removeItem(atPath: copy)
            try FileManager.default.copyItem(atPath: state, toPath: copy)
            let queue = try DatabaseQueue(path: copy, configuration: Self.checksummed)
            try queue.write { db in
                try db.execute(sql: "UPDATE bucket SET \(change) WHERE minute = (SELECT max(minute) FROM bucket)")
                try db.execute(sql: "UPDATE bucket SET checksum = \(checksum)")
            }
            try queue.close()
            return copy
        }
        let negative = try forged("negative.db", "requests = -1")
        #expect(try Support.run(["state", negative]).status == 2)
        let run = try night(negative, [directory + "/a.log"])
        #expect(run.status == 2, "\(run.stderr)")
        #expect(run.stderr.contains("damaged"), "\(run.stderr)")
        // Version 3 added byte totals with SQL's +, which makes a real number past 2^63.
        let real = try forged("real.db", "bytes = 1.0e19")
        let queue = try DatabaseQueue(path: real, configuration: Self.checksummed)
        try queue.write { db in
            try Self.withoutClients(db)
            try db.execute(sql: "DELETE FROM day_bucket; DELETE FROM meta WHERE key = 'folded_before'; PRAGMA user_version = 3")
        }
        try queue.close()
        let upgraded = try night(real, [directory + "/a.log"])
        #expect(upgraded.status == 0, "\(upgraded.stderr)")
        #expect(try requests(real) == 600)
    }

    /// Two nights forty days apart, in `directory`: 500 lines on 16 September 2016 (`start`),
    /// then 300 on 26 October, whose night folds the first day's minutes.
    private func nightsFortyDaysApart(in directory: String) throws -> (state: String, start: Int) {
        let state = directory + "/state.db"
        let start = 24_566_400  // 2016-09-16T00:00Z
        try write(directory + "/old.log", lines(500, start: start))
        try write(directory + "/new.log", lines(300, start: start + 40 * 1440))
        _ = try night(state, [directory + "/old.log"])
        _ = try night(state, [directory + "/old.log", directory + "/new.log"])
        return (state, start)
    }

    /// A minute row's checksum since version 6 (with its clients), and before.
    static let minuteChecksum =
        "logsurge_row_checksum(minute, site, country, requests, status_2xx, status_3xx, status_4xx, status_5xx, bytes, clients, busiest)"
    static let minuteChecksumBefore6 =
        "logsurge_row_checksum(minute, site, country, requests, status_2xx, status_3xx, status_4xx, status_5xx, bytes)"

    /// Makes the minutes as a version before 6 kept them: without their clients.
    static func withoutClients(_ db: Database) throws {
        try db.execute(
            sql: """
                ALTER TABLE bucket DROP COLUMN clients;
                ALTER TABLE bucket DROP COLUMN busiest;
                UPDATE bucket SET checksum = \(minuteChecksumBefore6);
                PRAGMA user_version = 5;
                """)
    }

    @Test("the state keeps each minute's clients; a version 5 file is read, and upgraded with its minutes' clients not known")
    func clientsInTheState() throws {
        let directory = Support.temporaryDirectory().path
        defer { try? fileManager.removeItem(atPath: directory) }
        let state = directory + "/state.db"
        // 600 lines, one a second, from 200 × 250 addresses: 60 distinct clients a minute.
        try write(directory + "/a.log", lines(600))
        #expect(try night(state, [directory + "/a.log"]).status == 0)
        func exported() throws -> [Substring] {
            let result = try Support.run(["state", "--buckets", "-", state])
            #expect(result.status == 0, "\(result.stderr)")
            return result.stdout.split(separator: "\n").dropFirst().map { $0.split(separator: ",").last! }
        }
        let plain = try Support.run(["--quiet", "--buckets", "-", directory + "/a.log"])
        let clients = plain.stdout.split(separator: "\n").dropFirst().map { $0.split(separator: ",").last! }
        #expect(clients.count == 10 && clients.allSatisfy { $0 == "60" }, "\(plain.stdout)")
        #expect(try exported() == clients)
        // As version 5 left it: the minutes without clients, checked with their old checksums.
        let queue = try DatabaseQueue(path: state, configuration: Self.checksummed)
        try queue.write { try Self.withoutClients($0) }
        #expect(try requests(state) == 600)
        #expect(try exported().allSatisfy { $0 == "0" })
        // The next night upgrades it: the old minutes' clients not known, the new ones counted.
        try append(directory + "/a.log", lines(120, from: 600))
        let upgraded = try night(state, [directory + "/a.log"])
        #expect(upgraded.status == 0, "\(upgraded.stderr)")
        #expect(try queue.read { try Int.fetchOne($0, sql: "PRAGMA user_version") } == 6)
        #expect(try exported() == Array(repeating: "0", count: 10) + ["60", "60"])
        #expect(try requests(state) == 720)
        try queue.close()
    }

    /// A connection that can compute row checksums, to change rows as logsurge would.
    static let checksummed: Configuration = {
        var configuration = Configuration()
        configuration.prepareDatabase { db in db.add(function: RunState.rowChecksum) }
        return configuration
    }()

    @Test("a version 2 state is checked and upgraded: nothing read again, and the next episode numbered after the earlier ones")
    func upgradeFromVersion2() throws {
        let directory = Support.temporaryDirectory().path
        defer { try? fileManager.removeItem(atPath: directory) }
        let day1 = directory + "/d1.log", day2 = directory + "/d2.log"
        for (path, start, seed) in [(day1, "2016-11-01T00:00Z", "3"), (day2, "2016-11-03T00:00Z", "4")] {
            let surge = "surge:US:10:\(start.prefix(10))T12:00Z:60"
            let result = try Support.run([
                "generate", "--start", start, "--days", "1", "--rate", "60", "--seed", seed,
                "--event", surge, "--output", path,
            ])
            #expect(result.status == 0)
        }
        let state = directory + "/state.db"
        _ = try night(state, [day1])
        // The file as version 2 left it: no row checksums, daily totals or episodes; one checksum of everything.
        let queue = try DatabaseQueue(path: state, configuration: Self.checksummed)
        try queue.write { db in
            try Self.withoutClients(db)
            try db.execute(
                sql: """
                    CREATE TABLE input_v2 (fingerprint INTEGER NOT NULL, prefix_length INTEGER NOT NULL, path TEXT NOT NULL,
                        device INTEGER NOT NULL, inode INTEGER NOT NULL, size INTEGER NOT NULL, modified INTEGER NOT NULL,
                        consumed INTEGER NOT NULL, PRIMARY KEY (fingerprint, prefix_length));
                    INSERT INTO input_v2 SELECT fingerprint, prefix_length, path, device, inode, size, modified, consumed FROM input;
                    DROP TABLE input; ALTER TABLE input_v2 RENAME TO input;
                    ALTER TABLE bucket DROP COLUMN checksum;
                    DROP TABLE day_bucket; DROP TABLE episode;
                    DELETE FROM meta WHERE key = 'next_alert_id';
                    PRAGMA user_version = 2;
                    """)
            try db.execute(sql: "INSERT INTO meta (key, value) VALUES ('checksum', ?)", arguments: [try RunState.legacyChecksum(db)])
        }
        try queue.close()
        let next = try Support.run(["--quiet", "--state", state, "--alerts", "-", day1, day2])
        #expect(next.status == 0, "\(next.stderr)")
        let everything = try Support.run(["--quiet", "--alerts", "-", day1, day2])
        let reported = next.stdout.split(separator: "\n")
        #expect(!reported.isEmpty)
        #expect(reported.allSatisfy { everything.stdout.split(separator: "\n").contains($0) }, "\(next.stdout)")
        let plain = try Support.run(["--quiet", "--summary", "-", day1, day2])
        let summary = try #require(JSONSerialization.jsonObject(with: Data(plain.stdout.utf8)) as? [String: Any])
        #expect(try requests(state) == summary["parsed"] as? Int)
    }
}

/// The detectors' snapshot a `--state` run keeps: the next night goes on from it and raises
/// what one run over everything raises; whatever it cannot go on from is replayed instead.
@Suite(.tags(.launchesBinary), .enabled(if: Support.executable != nil, "the logsurge executable is not built"))
struct DetectorSnapshotStateCLITests {
    private let fileManager = FileManager.default

    private func generate(_ day: Int, _ directory: String) throws -> String {
        let path = "\(directory)/day\(day).log"
        // Both events are on the third day (a day is given only the events it holds).
        let events = day == 3 ? ["--event", "surge:US:8:2016-11-10T18:00Z:90", "--event", "errors:0.4:2016-11-10T06:00Z:15"] : []
        let result = try Support.run(
            [
                "generate", "--start", ["2016-11-08", "2016-11-09", "2016-11-10"][day - 1] + "T00:00Z", "--minutes", "1440", "--rate",
                "60", "--seed", "\(day)", "--output", path,
            ] + events)
        #expect(result.status == 0, "\(result.stderr)")
        return path
    }

    private func snapshot(_ state: String) throws -> (through: Int32, bytes: Data)? {
        let queue = try DatabaseQueue(path: state)
        defer { try? queue.close() }
        return try queue.read { db in
            try Row.fetchOne(db, sql: "SELECT through, data FROM detector").map { ($0[0], $0[1]) }
        }
    }

    private func night(_ state: String, _ paths: [String], _ alerts: String, extra: [String] = []) throws -> [String] {
        let result = try Support.run(["--quiet", "--state", state, "--alerts", alerts] + extra + paths)
        #expect(result.status == 0, "\(result.stderr)")
        return try String(contentsOfFile: alerts, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    @Test("an episode an earlier night raised, still going on, is in the report, the page and the metrics, and not written again")
    func episodeGoingOnFromAnEarlierNight() throws {
        let directory = Support.temporaryDirectory().path
        defer { try? fileManager.removeItem(atPath: directory) }
        let generated = try Support.run([
            "generate", "--start", "2016-11-01T00:00Z", "--days", "2", "--rate", "60", "--seed", "21",
            "--event", "surge:US:10:2016-11-02T23:00Z:120", "--output", directory + "/all.log",
        ])
        try #require(generated.status == 0, "\(generated.stderr)")
        let lines = try String(contentsOfFile: directory + "/all.log", encoding: .utf8).split(separator: "\n")
        // The first night ends at 23:30Z, inside the surge; the second adds ten minutes of it.
        let cut = try #require(lines.firstIndex { $0.contains("02/Nov/2016:18:30") })
        let log = directory + "/access.log"
        try Data((lines[..<cut].joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: log))
        let first = try night(directory + "/state.db", [log], directory + "/a1.jsonl")
        #expect(first.count == 1 && first[0].contains(#""state":"open","kind":"surge""#), "\(first)")
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        handle.seekToEndOfFile()
        handle.write(Data((lines[cut..<(cut + 600)].joined(separator: "\n") + "\n").utf8))
        try handle.close()
        let second = try Support.run(
            [
                "--state", directory + "/state.db", "--alerts", directory + "/a2.jsonl", "--html", directory + "/h2.html",
                "--metrics", directory + "/m2.prom", "--fail-on-alert", log,
            ])
        #expect(second.status == 0, "nothing was raised this night: \(second.stderr)")
        #expect(try String(contentsOfFile: directory + "/a2.jsonl", encoding: .utf8).isEmpty, "already written the first night")
        #expect(second.stdout.contains("Alerts: 1 episode"), "\(second.stdout)")
        #expect(second.stdout.contains("#1 surge") && second.stdout.contains("still open at the last minute read"))
        let page = try String(contentsOfFile: directory + "/h2.html", encoding: .utf8)
        #expect(!page.contains("No alert was raised") && page.contains("#1"))
        let metrics = try String(contentsOfFile: directory + "/m2.prom", encoding: .utf8)
        #expect(metrics.contains(#"logsurge_alert_active{kind="surge",site="-",country="US"} 1"#), "\(metrics)")
        #expect(metrics.contains(#"logsurge_alerts_total{kind="surge"} 0"#), "raised by the first night, not this one")
    }

    @Test("nights going on from the snapshot, or replaying when they cannot, raise one run's alerts")
    func nightsFromTheSnapshot() throws {
        let directory = Support.temporaryDirectory().path
        defer { try? fileManager.removeItem(atPath: directory) }
        let days = try (1...3).map { try generate($0, directory) }
        let reference = try Support.run(["--quiet", "--alerts", "-"] + days)
        let expected = reference.stdout.split(separator: "\n").map(String.init)
        #expect(expected.contains { $0.contains("\"surge\"") } && expected.contains { $0.contains("\"error_spike\"") })

        // Night 1 keeps a snapshot an hour before its last minute; night 2 goes on from it.
        let state = directory + "/state.db"
        var alerts = try night(state, Array(days[0...1]), directory + "/a1.jsonl")
        let first = try #require(try snapshot(state))
        #expect(first.through == UTCMinute.parse("2016-11-09T22:59Z"))
        alerts += try night(state, [days[2]], directory + "/a2.jsonl")
        #expect(alerts == expected)
        #expect(try #require(try snapshot(state)).through == UTCMinute.parse("2016-11-10T22:59Z"))

        // A night that ends a few lines into the surge's first minute: the next night steps that
        // minute again, whole, and what it raises there is reported then (not left out as a
        // minute already decided).
        let day3 = try String(contentsOfFile: days[2], encoding: .utf8)
        let onset = try #require(day3.range(of: "10/Nov/2016:13:00:0"))
        let cut = day3[onset.lowerBound...].firstIndex(of: "\n").map { day3.index(after: $0) }!
        let halves = [directory + "/day3a.log", directory + "/day3b.log"]
        try Data(day3[..<cut].utf8).write(to: URL(fileURLWithPath: halves[0]))
        try Data(day3[cut...].utf8).write(to: URL(fileURLWithPath: halves[1]))
        let split = directory + "/split.db"
        var splitAlerts = try night(split, Array(days[0...1]) + [halves[0]], directory + "/s1.jsonl")
        splitAlerts += try night(split, [halves[1]], directory + "/s2.jsonl")
        #expect(splitAlerts == expected)

        // A snapshot of another build or options (bytes it cannot read, its checksum right) is
        // replayed past; one whose bytes changed behind logsurge's back is damage (exit 2).
        let replayed = directory + "/replayed.db"
        _ = try night(replayed, Array(days[0...1]), directory + "/r1.jsonl")
        var configuration = Configuration()
        configuration.prepareDatabase { $0.add(function: RunState.rowChecksum) }
        var queue = try DatabaseQueue(path: replayed, configuration: configuration)
        try queue.write { db in
            try db.execute(sql: "UPDATE detector SET data = x'00ff', checksum = logsurge_row_checksum(name, through, x'00ff')")
        }
        try queue.close()
        let nightTwo = try String(contentsOfFile: directory + "/a2.jsonl", encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(try night(replayed, [days[2]], directory + "/r2.jsonl") == nightTwo)
        let damaged = directory + "/damaged.db"
        _ = try night(damaged, Array(days[0...1]), directory + "/d1.jsonl")
        queue = try DatabaseQueue(path: damaged)
        try queue.write { try $0.execute(sql: "UPDATE detector SET data = x'00ff'") }
        try queue.close()
        let refused = try Support.run(["--quiet", "--state", damaged, days[2]])
        #expect(refused.status == 2 && refused.stderr.contains("damaged"), "\(refused.stderr)")

        // Lines older than the snapshot (a late archive): the window is replayed, every line
        // counted once, and the snapshot moves on.
        let late = directory + "/late.db"
        _ = try night(late, [days[1]], directory + "/l1.jsonl")
        _ = try night(late, [days[0], days[2]], directory + "/l2.jsonl")
        let held = try JSONSerialization.jsonObject(with: Data(try Support.run(["state", late]).stdout.utf8)) as? [String: Any]
        let parsed =
            try JSONSerialization.jsonObject(with: Data(try Support.run(["--quiet", "--summary", "-"] + days).stdout.utf8))
            as? [String: Any]
        #expect(held?["requests"] as? Int == parsed?["requests"] as? Int)
        #expect(try #require(try snapshot(late)).through == UTCMinute.parse("2016-11-10T22:59Z"))
        // Other options: the snapshot is refused and the window replayed, and the new snapshot
        // is of those options.
        let before = try #require(try snapshot(late))
        _ = try night(late, [days[2]], directory + "/l3.jsonl", extra: ["--watch-country", "DE"])
        let after = try #require(try snapshot(late))
        #expect(after.through == before.through && after.bytes != before.bytes)
    }
}

/// A log whose name is not UTF-8 (Latin-1, damaged bytes), found in a directory.
@Suite(.tags(.launchesBinary), .enabled(if: Support.executable != nil, "the logsurge executable is not built"))
struct ByteNameCLITests {
    @Test("a log named in bytes that are not UTF-8 is read by them, once across --state runs, and shown with \\xHH")
    func readByItsBytes() throws {
        let directory = Support.temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory + "/logs", withIntermediateDirectories: true)
        let line = "8.8.8.8 - - [09/Nov/2016:02:30:00 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"t\"\n"
        let raw = (Array("\(directory)/logs/acc".utf8) + [0xE9] + Array("s.log".utf8) + [0]).map { CChar(bitPattern: $0) }
        let fd = open(raw, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        try #require(fd >= 0)
        _ = Array(String(repeating: line, count: 3).utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        let state = directory + "/state.db"
        for (night, expected) in [(1, 3), (2, 0)] {
            let result = try Support.run(["--quiet", "--state", state, "--summary", "-", directory + "/logs"])
            #expect(result.status == 0, "night \(night): \(result.stderr)")
            let summary = try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            #expect(summary["lines"] as? Int == expected, "night \(night)")
            let inputs = summary["inputs"] as? [[String: Any]] ?? []
            #expect(inputs.first?["path"] as? String == directory + "/logs/acc\\xE9s.log", "\(inputs)")
        }
        #expect(try Support.run(["state", state]).stdout.contains("\"requests\":3"))
    }

    @Test("café with é composed and café with e and a combining accent are two logs to --state")
    func canonicallyEqualNames() throws {
        let directory = Support.temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let line = "8.8.8.8 - - [09/Nov/2016:02:30:00 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"t\"\n"
        try FileManager.default.createDirectory(atPath: directory + "/logs", withIntermediateDirectories: true)
        for (name, count) in [("caf\u{E9}.log", 1), ("cafe\u{301}.log", 2)] {
            let raw = (Array("\(directory)/logs/".utf8) + Array(name.utf8) + [0]).map { CChar(bitPattern: $0) }
            let fd = open(raw, O_WRONLY | O_CREAT | O_EXCL, 0o644)
            try #require(fd >= 0)
            _ = Array(String(repeating: line, count: count).utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            close(fd)
        }
        let state = directory + "/state.db"
        for (night, expected) in [(1, 3), (2, 0)] {
            let result = try Support.run(["--quiet", "--state", state, "--summary", "-", directory + "/logs"])
            #expect(result.status == 0, "night \(night): \(result.stderr)")
            let summary = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
            #expect(summary?["lines"] as? Int == expected, "night \(night)")
        }
        #expect(try Support.run(["state", state]).stdout.contains("\"requests\":3"))
    }
}
