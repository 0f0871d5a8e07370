import Foundation
import LogSurgePipelineTestSupport
import GRDB
import LogSurgeCore
@testable import LogSurgeState
import Testing

/// `--state`, end to end: nightly runs over a rotating log directory, as cron would run them.
@Suite(.tags(.launchesBinary), .enabled(if: Support.executable != nil, "the logsurge executable is not built"))
struct StateCLITests {
    private let fileManager = FileManager.default

    private func generate(_ arguments: [String], to path: String) throws {
        let result = try Support.run(["generate"] + arguments + ["--output", path])
        #expect(result.status == 0, "\(result.stderr)")
    }

    private func summary(_ path: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    }

    private func lines(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    @Test(
        "W3C logs resumed mid-file keep the columns of the #Fields: line before the resumption point",
        arguments: ["w3c", "cloudfront"])
    func w3cResumes(_ format: String) throws {
        let directory = Support.temporaryDirectory().path
        defer { try? fileManager.removeItem(atPath: directory) }
        try generate(["--format", format, "--minutes", "120", "--rate", "60", "--seed", "4"], to: "\(directory)/whole.log")
        let whole = try Data(contentsOf: URL(fileURLWithPath: "\(directory)/whole.log"))
        // The log as the server had written it at the first run: its directives, then a part of its lines.
        let text = String(decoding: whole, as: UTF8.self)
        let cut = text.index(text.startIndex, offsetBy: text.count / 2)
        let firstPart = text[...text[..<cut].lastIndex(of: "\n")!]
        let logs = directory + "/logs"
        try fileManager.createDirectory(atPath: logs, withIntermediateDirectories: true)
        try Data(firstPart.utf8).write(to: URL(fileURLWithPath: "\(logs)/u_ex161109.log"))
        let state = directory + "/state.db"
        var parsed = 0
        for night in 1...2 {
            if night == 2 { try whole.write(to: URL(fileURLWithPath: "\(logs)/u_ex161109.log")) }
            let result = try Support.run(["--quiet", "--state", state, "--summary", "\(directory)/summary\(night).json", logs])
            #expect(result.status == 0, "night \(night): \(result.stderr)")
            let counted = try summary("\(directory)/summary\(night).json")
            #expect(counted["lines"] as? Int == counted["parsed"] as? Int, "night \(night): \(counted)")
            parsed += counted["parsed"] as? Int ?? 0
        }
        // Read at once, the same log gives as many requests as the two nights together.
        let once = try Support.run(["--quiet", "--summary", "-", "\(directory)/whole.log"])
        let total = try #require(JSONSerialization.jsonObject(with: Data(once.stdout.utf8)) as? [String: Any])
        #expect(total["parsed"] as? Int == parsed)
    }

    @Test("nightly runs over rotated, growing and compressed logs read each line once and give one run's alerts")
    func nightlyRuns() throws {
        let directory = Support.temporaryDirectory().path
        defer { try? fileManager.removeItem(atPath: directory) }
        // Three days, each its own file; the surge is on the second evening, an error spike on the third morning.
        // (Each day is given the events it holds: an event with no minute in a day is refused.)
        let events = [["--event", "surge:US:8:2016-11-09T18:00Z:60"], ["--event", "errors:0.4:2016-11-10T06:00Z:15"]]
        for (day, start) in ["2016-11-08", "2016-11-09", "2016-11-10"].enumerated() {
            let common =
                ["--start", "\(start)T00:00Z", "--minutes", "1440", "--rate", "100", "--seed", "\(day + 1)"]
                + events.filter { $0[1].contains(start) }.flatMap { $0 }
            try generate(common, to: "\(directory)/day\(day + 1).log")
            // The same day compressed, as logrotate's compress leaves it.
            try generate(common + ["--gzip"], to: "\(directory)/day\(day + 1).log.gz")
        }
        let logs = directory + "/logs"
        try fileManager.createDirectory(atPath: logs, withIntermediateDirectories: true)
        let state = directory + "/state.db"
        var alerts: [String] = []
        var linesRead = 0
        func night(_ number: Int) throws {
            let result = try Support.run([
                "--quiet", "--state", state, "--alerts", "\(directory)/alerts\(number).jsonl",
                "--summary", "\(directory)/summary\(number).json", logs,
            ])
            #expect(result.status == 0, "night \(number): \(result.stderr)")
            alerts += try lines("\(directory)/alerts\(number).jsonl")
            linesRead += try summary("\(directory)/summary\(number).json")["lines"] as? Int ?? -1
        }

        // Night 1: the first day.
        try fileManager.copyItem(atPath: "\(directory)/day1.log", toPath: "\(logs)/access.log")
        try night(1)
        // Night 2, run twice: rotated by rename, then the new log grows between the runs (cut at noon).
        try fileManager.moveItem(atPath: "\(logs)/access.log", toPath: "\(logs)/access.log.1")
        let day2 = try String(contentsOfFile: "\(directory)/day2.log", encoding: .utf8)
        let noon = day2.range(of: "09/Nov/2016:12:00:")!.lowerBound
        let cut = day2[..<noon].lastIndex(of: "\n").map { day2.index(after: $0) } ?? noon
        try Data(day2[..<cut].utf8).write(to: URL(fileURLWithPath: "\(logs)/access.log"))
        try night(2)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(logs)/access.log"))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(day2[cut...].utf8))
        try handle.close()
        try night(3)
        // Night 3: the first day compressed (a new file with the same content), the second renamed, a third day.
        try fileManager.removeItem(atPath: "\(logs)/access.log.1")
        try fileManager.copyItem(atPath: "\(directory)/day1.log.gz", toPath: "\(logs)/access.log.2.gz")
        try fileManager.moveItem(atPath: "\(logs)/access.log", toPath: "\(logs)/access.log.1")
        try fileManager.copyItem(atPath: "\(directory)/day3.log", toPath: "\(logs)/access.log")
        try night(4)
        // Night 4: nothing new.
        try night(5)
        #expect(try summary("\(directory)/summary5.json")["lines"] as? Int == 0)

        // One run over everything.
        let reference = try Support.run([
            "--quiet", "--alerts", "-", "--summary", "\(directory)/all.json",
            "\(directory)/day1.log", "\(directory)/day2.log", "\(directory)/day3.log",
        ])
        #expect(reference.status == 0)
        #expect(linesRead == (try summary("\(directory)/all.json")["lines"] as? Int))
        let expected = reference.stdout.split(separator: "\n").map(String.init)
        #expect(expected.contains { $0.contains("\"kind\":\"surge\"") })
        #expect(expected.contains { $0.contains("\"kind\":\"error_spike\"") })
        #expect(alerts == expected)
    }

    /// Three days from 2016-11-07 at 80 requests a minute with `event` (seed `seed`), in
    /// `directory`/whole.log; the text of the log.
    private func threeDays(seed: Int, event: String, in directory: String) throws -> String {
        try generate(
            ["--start", "2016-11-07T00:00Z", "--minutes", "\(3 * 1440)", "--rate", "80", "--seed", "\(seed)", "--event", event],
            to: "\(directory)/whole.log")
        return try String(contentsOfFile: "\(directory)/whole.log", encoding: .utf8)
    }

    /// Writes to `path` the lines of `log` before the first of 9 November at `local` (HH:MM,
    /// the log's clock: UTC-05:00), as the server had written them by then.
    private func write(_ log: String, before local: String, to path: String) throws {
        let cut = log.range(of: "09/Nov/2016:\(local):")!.lowerBound
        try Data(log[...log[..<cut].lastIndex(of: "\n")!].utf8).write(to: URL(fileURLWithPath: path))
    }

    @Test("a night that switches to --watch-country all reports an episode the replay opened before its minutes: open, then closed")
    func switchingToEveryCountry() throws {
        let directory = Support.temporaryDirectory().path
        defer { try? fileManager.removeItem(atPath: directory) }
        let whole = try threeDays(seed: 3, event: "surge:MX:10:2016-11-09T18:00Z:120", in: directory)
        // The first night reads the log as written by 18:40Z, the MX crowd under way; the
        // default watch (US) does not see it.
        let log = directory + "/access.log"
        try write(whole, before: "13:40", to: log)
        let state = directory + "/state.db"
        let first = try Support.run(["--quiet", "--state", state, "--alerts", "-", log])
        #expect(first.status == 0 && !first.stdout.contains("\"MX\""), "\(first.stdout)\(first.stderr)")
        // The second reads the rest with every country checked: the replay opens the MX episode
        // at 18:0x, before the minutes this night reports; it closes after them.
        try Data(whole.utf8).write(to: URL(fileURLWithPath: log))
        let second = try Support.run(["--quiet", "--state", state, "--watch-country", "all", "--alerts", "-", log])
        #expect(second.status == 0, "\(second.stderr)")
        let mx = second.stdout.split(separator: "\n").filter { $0.contains("\"country\":\"MX\"") }
        #expect(mx.count == 2 && mx[0].contains("\"state\":\"open\"") && mx[1].contains("\"state\":\"closed\""), "\(second.stdout)")
        #expect(mx.count == 2 && mx[0].contains("\"start\":\"2016-11-09T18:0"), "\(mx)")
    }

    @Test("a surge that nights of different configurations date differently stays one episode, one id, opened and closed once")
    func oneEpisodeAcrossConfigurations() throws {
        let directory = Support.temporaryDirectory().path
        defer { try? fileManager.removeItem(atPath: directory) }
        // A US rush ramping up over an hour: the default watch raises it at 18:19Z, the same
        // minutes checked by share (`all`) at 18:50Z.
        let whole = try threeDays(seed: 4, event: "surge:US:3:2016-11-09T18:00Z:120:60", in: directory)
        let log = directory + "/access.log", state = directory + "/state.db"
        var lines: [Substring] = []
        // Nights ending at 19:10Z (default), 20:20Z (all) and 23:00Z (default): the log is at UTC-05:00.
        for (local, options) in [("14:10", [String]()), ("15:20", ["--watch-country", "all"]), ("18:00", [])] {
            try write(whole, before: local, to: log)
            let night = try Support.run(["--quiet", "--state", state, "--alerts", "-"] + options + [log])
            #expect(night.status == 0, "\(night.stderr)")
            lines += night.stdout.split(separator: "\n")
        }
        let us = lines.filter { $0.contains("\"country\":\"US\"") }
        #expect(
            us.count == 2 && us[0].contains("\"id\":1,\"state\":\"open\"") && us[1].contains("\"id\":1,\"state\":\"closed\""), "\(lines)")
    }

    @Test("an episode a night that stopped watching its country left open is not the next crowd of that country, days later")
    func aStaleOpenEpisodeIsNotANewOne() throws {
        let directory = Support.temporaryDirectory().path
        defer { try? fileManager.removeItem(atPath: directory) }
        // Two MX crowds: from 22:00Z on the 2nd for five hours, and from 11:50Z on the 4th.
        try generate(
            [
                "--start", "2016-11-01T00:00Z", "--minutes", "\(4 * 1440)", "--rate", "100", "--seed", "3",
                "--event", "surge:MX:6:2016-11-02T22:00Z:300:10", "--event", "surge:MX:6:2016-11-04T11:50Z:120:15",
            ], to: "\(directory)/whole.log")
        let whole = try String(contentsOfFile: "\(directory)/whole.log", encoding: .utf8)
        let log = directory + "/access.log", state = directory + "/state.db"
        var lines: [Substring] = []
        // Nights ending at 00:00Z on the 3rd (all: the first crowd opens), 00:00Z on the 4th (the
        // default watch: it is never closed), 13:00Z and the end (all: the second crowd starts
        // before 13:00Z and is raised after it). The log's clock is at UTC-05:00.
        let all = ["--watch-country", "all"]
        for (cut, options) in [("02/Nov/2016:19:00:", all), ("03/Nov/2016:19:00:", []), ("04/Nov/2016:08:00:", all), (nil, all)] {
            let end = cut.map { whole.index(after: whole[..<whole.range(of: $0)!.lowerBound].lastIndex(of: "\n")!) } ?? whole.endIndex
            try Data(whole[..<end].utf8).write(to: URL(fileURLWithPath: log))
            let night = try Support.run(["--quiet", "--state", state, "--alerts", "-"] + options + [log])
            #expect(night.status == 0, "\(night.stderr)")
            lines += night.stdout.split(separator: "\n")
        }
        let second = lines.filter { $0.contains("\"country\":\"MX\"") && $0.contains("\"start\":\"2016-11-04") }
        // Before: its opening was taken for the first crowd's (left open), and only a closing
        // with id 1 was written.
        #expect(second.count == 2 && second.allSatisfy { $0.contains("\"id\":2,") }, "\(lines)")
    }

    /// A directory with the state of one run over the combined fixture: the directory, the
    /// log, the state's path and its bytes.
    private func stateOfOneRun() throws -> (directory: String, log: String, state: String, bytes: Data) {
        let directory = Support.temporaryDirectory().path
        let log = Support.fixture("combined.log")
        let state = directory + "/state.db"
        #expect(try Support.run(["--quiet", "--state", state, log]).status == 0)
        return (directory, log, state, try Data(contentsOf: URL(fileURLWithPath: state)))
    }

    @Test("a state file that is not one, another program's database or a damaged one is an error naming it")
    func unusableStateFiles() throws {
        let (directory, log, state, original) = try stateOfOneRun()
        defer { try? fileManager.removeItem(atPath: directory) }
        // Damage one stored value of a minute the next run reads (its last): SQLite's own check
        // passes, the row's checksum does not.
        try original.write(to: URL(fileURLWithPath: directory + "/damaged.db"))
        let queue = try DatabaseQueue(path: directory + "/damaged.db")
        try queue.write { db in
            try db.execute(sql: "UPDATE bucket SET requests = requests + 1 WHERE minute = (SELECT max(minute) FROM bucket)")
        }
        try queue.close()
        // Another program's SQLite database: the header's application id (bytes 68-71) differs.
        var foreign = original
        foreign.replaceSubrange(68..<72, with: Data([0, 0, 0, 7]))
        try foreign.write(to: URL(fileURLWithPath: directory + "/foreign.db"))
        try Data("not a database at all\n".utf8).write(to: URL(fileURLWithPath: directory + "/text.db"))
        let cases: [(String, String)] = [
            ("damaged.db", "damaged"),
            ("foreign.db", "not a logsurge state file"),
            ("text.db", "not a usable state file"),
        ]
        for (name, message) in cases {
            let result = try Support.run(["--quiet", "--state", "\(directory)/\(name)", log])
            #expect(result.status == 2, "\(name)")
            #expect(result.stderr.contains("\(directory)/\(name)") && result.stderr.contains(message), "\(name): \(result.stderr)")
        }
        #expect(try Support.run(["--quiet", "--state", state, "-"]).status == 2)
    }

    @Test("a detectors' row forged with its checksum, at either end of the minutes, is refused or replayed, never trapped on")
    func forgedDetectorsRowAtTheEnds() throws {
        let (directory, log, _, original) = try stateOfOneRun()
        defer { try? fileManager.removeItem(atPath: directory) }
        for through in [Int64(Int32.max), Int64(Int32.min)] {
            let forged = directory + "/forged\(through).db"
            try Self.forge(original, at: forged) { db in
                try db.execute(
                    sql: "UPDATE detector SET through = ?1, checksum = logsurge_row_checksum(name, ?1, data)", arguments: [through])
            }
            let result = try Support.run(["--quiet", "--state", forged, log])
            // Before: an arithmetic overflow trapped (status 132).
            #expect([0, 2].contains(result.status), "through \(through): \(result.status) \(result.stderr)")
        }
    }

    /// Writes `original` (a state's bytes) at `path` and changes it there with `change`, which
    /// may compute a row's checksum as logsurge does (`logsurge_row_checksum`).
    static func forge(_ original: Data, at path: String, _ change: (Database) throws -> Void) throws {
        try original.write(to: URL(fileURLWithPath: path))
        var configuration = Configuration()
        configuration.prepareDatabase { $0.add(function: RunState.rowChecksum) }
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        try queue.write(change)
        try queue.close()
    }

    /// Forges a folded day: every day before the first minute kept counts as folded, and one
    /// more day row, at `day`, is among them.
    static func foldedDay(_ day: Int) -> [String] {
        [
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('folded_before', (SELECT min(minute) FROM bucket))",
            """
            INSERT INTO day_bucket (day, site, country, requests, status_2xx, status_3xx, status_4xx, status_5xx, bytes, checksum)
            SELECT \(day), site, country, requests, status_2xx, status_3xx, status_4xx, status_5xx, bytes, 0 FROM day_bucket LIMIT 1
            """,
        ]
    }

    @Test("a minute or a day forged with its checksum past the years 0000-3999 is damage, said, never trapped on")
    func forgedMinutesPastTheSupportedYears() throws {
        let (directory, log, _, original) = try stateOfOneRun()
        defer { try? fileManager.removeItem(atPath: directory) }
        let minuteRow =
            "logsurge_row_checksum(minute, site, country, requests, status_2xx, status_3xx, status_4xx, status_5xx, bytes, clients, busiest)"
        let dayRow = "logsurge_row_checksum(day, site, country, requests, status_2xx, status_3xx, status_4xx, status_5xx, bytes)"
        let forgeries = [
            "last minute Int32.max": ["UPDATE bucket SET minute = \(Int32.max) WHERE minute = (SELECT max(minute) FROM bucket)"],
            "a minute of 4000": [
                "UPDATE bucket SET minute = \(UTCMinute.supported.upperBound + 1) WHERE minute = (SELECT max(minute) FROM bucket)"
            ],
            "a first minute before 0000": [
                "UPDATE bucket SET minute = \(UTCMinute.supported.lowerBound - 1) WHERE minute = (SELECT min(minute) FROM bucket)"
            ],
            // Only days left (minutes folded), the last a day no Int32 minute reaches.
            "a day of 2e9": ["DELETE FROM bucket", "UPDATE day_bucket SET day = 2000000000"],
            "last minute 2^40": ["UPDATE bucket SET minute = \(Int64(1) << 40) WHERE minute = (SELECT max(minute) FROM bucket)"],
            // A folded day (the minutes before the first kept folded into days) before 0000,
            // read by `state` (it trapped at -2,000,000; -1,000,000 was taken for year -0768).
            "a first folded day of -2e6": Self.foldedDay(-2_000_000),
            "a first folded day of -1e6": Self.foldedDay(-1_000_000),
            "a first folded day of Int64.min": Self.foldedDay(Int(Int64.min)),
        ]
        for (name, statements) in forgeries {
            let forged = directory + "/\(name).db"
            try Self.forge(original, at: forged) { db in
                for statement in statements { try db.execute(sql: statement) }
                try db.execute(sql: "UPDATE bucket SET checksum = \(minuteRow)")
                try db.execute(sql: "UPDATE day_bucket SET checksum = \(dayRow)")
            }
            let result = try Support.run(["--quiet", "--state", forged, log])
            // A minute before the window a night reads is left until something reads it: the
            // state command, which checks all of it.
            let early = name.hasPrefix("a first")  // not read by a run
            #expect(result.status == (early ? 0 : 2), "\(name): \(result.status) \(result.stderr)")
            if !early { #expect(result.stderr.contains("state file damaged"), "\(name): \(result.stderr)") }
            let described = try Support.run(["state", forged, "--buckets", directory + "/minutes.csv"])
            #expect(
                described.status == 2 && described.stderr.contains("state file damaged"), "\(name): \(described.status) \(described.stderr)"
            )
        }
    }
}
