import Foundation
import LogSurgeInput
import LogSurgePipelineTestSupport
import LogSurgeTestSupport
import Testing

/// The built executable against hostile input, broken databases and outputs that fail: a clear
/// error or a complete account, never a crash, a hang or memory that grows with the input.
@Suite(.tags(.launchesBinary), .enabled(if: Support.executable != nil, "the logsurge executable is not built"))
struct HostileCLITests {
    /// The summary object a run wrote to standard output.
    static func summary(_ result: Support.RunResult) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    }

    /// Checks the contract's invariants as the summary states them.
    static func expectBalanced(_ summary: [String: Any], sourceLocation: SourceLocation = #_sourceLocation) {
        let malformed = (summary["malformed"] as? [String: Int])?.values.reduce(0, +)
        #expect(summary["lines"] as? Int == (summary["parsed"] as? Int).map { $0 + (malformed ?? -1) }, sourceLocation: sourceLocation)
        #expect(summary["requests"] as? Int == summary["parsed"] as? Int, sourceLocation: sourceLocation)
        #expect(
            summary["invariants"] as? [String: Bool] == ["lines_equal_parsed_plus_malformed": true, "bucket_requests_equal_parsed": true],
            sourceLocation: sourceLocation)
    }

    /// The executable run under a limit of its data segment (heap, thread stacks, anonymous
    /// mappings): `ulimit -d`. A run of a few lines needs about 65 MiB with two threads; a
    /// run that held a 100 MiB line, or a gigabyte bomb, would need far more than the limit.
    static let dataLimit = "ulimit -d \(120 << 10)"

    /// One line of 100 MiB without a newline, written into `directory` plain or gzip.
    static func hugeLine(in directory: URL, compressed: Bool) throws -> String {
        let path = directory.appendingPathComponent(compressed ? "huge.log.gz" : "huge.log").path
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        let piece = [UInt8](repeating: UInt8(ascii: "A"), count: 1 << 20)
        let writer = GzipWriter(level: 1)
        for _ in 0..<100 {
            if compressed { writer.write(piece) { handle.write(Data($0)) } } else { handle.write(Data(piece)) }
        }
        if compressed { writer.finish { handle.write(Data($0)) } }
        return path
    }

    @Test("a 100 MB line without a newline is one line too long, read in bounded memory", arguments: ["file", "stdin", "gzip"])
    func hugeLineInBoundedMemory(how: String) throws {
        let directory = Support.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = try Self.hugeLine(in: directory, compressed: how == "gzip")
        let arguments = ["--threads", "2", "--quiet", "--summary", "-"]
        let result =
            how == "stdin"
            ? try Support.run(arguments + ["-"], shell: "\(Self.dataLimit) && exec \"$0\" \"$@\" < '\(path)'", timeLimit: 120)
            : try Support.run(arguments + [path], shell: "\(Self.dataLimit) && exec \"$0\" \"$@\"", timeLimit: 120)
        // Read whole, but its one line did not parse: an input error (status 1) that says why.
        #expect(result.status == 1, "\(result.stderr.prefix(500))")
        #expect(
            result.stderr.contains("none of its 1 lines parsed") && result.stderr.contains("line_too_long 1"),
            "\(result.stderr.prefix(500))")
        let summary = try Self.summary(result)
        #expect(summary["lines"] as? Int == 1)
        #expect((summary["malformed"] as? [String: Int])?["line_too_long"] == 1)
        #expect(summary["bytes_decompressed"] as? Int == 100 << 20)
        Self.expectBalanced(summary)
    }

    @Test("a gzip bomb (1 GiB of one line in 1 MB) inflates in bounded memory")
    func gzipBombInBoundedMemory() throws {
        let member = Support.gzip([UInt8](repeating: 0, count: 16 << 20), level: 9)
        let bomb = (0..<64).flatMap { _ in member }
        let path = Support.temporaryDirectory().appendingPathComponent("bomb.gz").path
        try Support.writeFile(
            path, Data(bomb + Support.gzip(Array("\n8.8.8.8 - - [09/Nov/2016:02:31:00 +0000] \"GET / HTTP/1.1\" 200 1\n".utf8))))
        let result = try Support.run(
            ["--threads", "2", "--quiet", "--summary", "-", path],
            shell: "\(Self.dataLimit) && exec \"$0\" \"$@\"", timeLimit: 120)
        #expect(result.status == 0, "\(result.stderr.prefix(500))")
        let summary = try Self.summary(result)
        #expect(summary["lines"] as? Int == 2)
        #expect(summary["parsed"] as? Int == 1)
        #expect((summary["malformed"] as? [String: Int])?["line_too_long"] == 1)
        #expect((summary["bytes_decompressed"] as? Int ?? 0) > 1 << 30)
        Self.expectBalanced(summary)
    }

    @Test("a directory of FIFOs, sockets, symbolic link loops and hostile names: only its log files are read")
    func hostileDirectory() throws {
        let directory = Support.temporaryDirectory().appendingPathComponent("logs")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        func at(_ name: String) -> String { directory.appendingPathComponent(name).path }
        try Support.writeFile(at("access.log"), Data(Support.generatedLog(minutes: 5, rate: 60, seed: 8)))
        // A damaged archive whose name carries escape sequences: its error names it, escaped.
        let hostileName = "access.log.1\u{1B}]0;owned\u{07}\u{1B}[2J.gz"
        try Support.writeFile(at(hostileName), Data(Support.gzip(Support.generatedLog(minutes: 5, rate: 60, seed: 9)).prefix(500)))
        #expect(mkfifo(at("fifo.log"), 0o600) == 0)  // opening it would wait for a writer forever
        let socket = Support.makeSocket(at("socket.log"))
        defer { close(socket) }
        let links = FileManager.default
        try links.createSymbolicLink(atPath: at("loop-a.log"), withDestinationPath: "loop-b.log")
        try links.createSymbolicLink(atPath: at("loop-b.log"), withDestinationPath: "loop-a.log")
        try links.createSymbolicLink(atPath: at("self.log"), withDestinationPath: ".")
        try links.createSymbolicLink(atPath: at("parent.log"), withDestinationPath: "..")
        try links.createSymbolicLink(atPath: at("dangling.log"), withDestinationPath: "/nonexistent/access.log")
        try links.createSymbolicLink(atPath: at("fifo-link.log"), withDestinationPath: "fifo.log")
        try links.createDirectory(atPath: at("archive.log"), withIntermediateDirectories: false)
        try Support.writeFile(at("archive.log/access.log"), Data("not read\n".utf8))

        let result = try Support.run(["--threads", "2", "--summary", "-", directory.path], timeLimit: 60)
        #expect(!result.timedOut)
        #expect(result.status == 1)  // the damaged archive
        let summary = try Self.summary(result)
        let inputs = try #require(summary["inputs"] as? [[String: Any]])
        // Groups in byte order of their base names: "access.log" before "access.log.1\u{1B}…".
        #expect(
            inputs.compactMap { ($0["path"] as? String).map { URL(fileURLWithPath: $0).lastPathComponent } } == ["access.log", hostileName])
        Self.expectBalanced(summary)
        #expect(result.stderr.contains("access.log.1\\x1b]0;owned\\x07\\x1b[2J.gz: gzip file truncated at byte 500"))
        #expect(!result.stderr.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" })
    }

    @Test("a symbolic link loop or a socket named as input is an error in its place")
    func unusablePaths() throws {
        let directory = Support.temporaryDirectory()
        let loop = directory.appendingPathComponent("loop").path
        try FileManager.default.createSymbolicLink(atPath: loop, withDestinationPath: loop)
        let socketPath = directory.appendingPathComponent("socket").path
        let socket = Support.makeSocket(socketPath)
        defer { close(socket) }
        let result = try Support.run(["--quiet", "--summary", "-", loop, socketPath, Support.fixture("combined.log")], timeLimit: 60)
        #expect(result.status == 1)
        #expect(
            result.stderr
                == "logsurge: \(loop): Too many levels of symbolic links\nlogsurge: \(socketPath): cannot open: No such device or address\n"
        )
        let summary = try Self.summary(result)
        #expect(summary["parsed"] as? Int == 13)
        #expect((summary["input_errors"] as? [Any])?.count == 2)
        Self.expectBalanced(summary)
    }

    @Test("a directory where a file was expected is a usage error naming it", arguments: ["--geoip", "--buckets", "--summary", "--alerts"])
    func directoryForAFile(option: String) throws {
        let directory = Support.temporaryDirectory().path
        let result = try Support.run([option, directory, "--quiet", Support.fixture("combined.log")], timeLimit: 60)
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("logsurge: error: "))
        #expect(result.stderr.contains(directory))
    }

    @Test("times 4,000 years apart are reported in every output and across --state runs; one past them is bad_timestamp")
    func timesFarApart() throws {
        let directory = Support.temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        func line(_ time: String, _ status: Int = 200) -> String {
            "8.8.8.8 - - [\(time)] \"GET / HTTP/1.1\" \(status) 5 \"-\" \"ua\"\n"
        }
        // The first and last minutes a log may give (`UTCMinute.supported`), a busy hour between.
        let logs = [
            "first.log": line("01/Jan/0000:00:00:00 +0000") + line("01/Jan/0000:00:00:30 +0000", 503),
            "between.log": (0..<60).map { line("09/Nov/2016:02:\($0 < 10 ? "0" : "")\($0):00 +0000", $0 % 2 == 0 ? 200 : 500) }.joined(),
            "last.log": line("31/Dec/3999:23:59:59 +0000", 500) + line("01/Jan/4000:00:59:00 +0100"),
        ]
        for (name, text) in logs { try Support.writeFile("\(directory)/\(name)", Data(text.utf8)) }
        // Before: 5,000 years between two lines passed 2^31 minutes and trapped (SIGILL) the
        // detectors' trace, the text report and the state's arithmetic.
        let beyond = line("01/Jan/0001:00:00:00 +0000") + line("01/Jan/5000:00:00:00 +0000") + line("01/Jan/0000:00:00:00 +1400")
        let outputs = ["--alerts", "\(directory)/a.jsonl", "--buckets", "\(directory)/b.csv", "--html", "\(directory)/r.html"]
        for watch in ["US", "all"] {
            let result = try Support.run(
                ["-", "--watch-country", watch, "--summary", "\(directory)/s.json", "--metrics", "\(directory)/m.txt"] + outputs,
                stdin: Array((beyond + logs.values.sorted().joined()).utf8), timeLimit: 120)
            #expect(result.status == 0, "\(result.stderr.suffix(1_000))")
            #expect(result.stdout.contains("Time span: 0000-01-01T00:00Z to 3999-12-31T23:59Z"), "\(result.stdout.prefix(600))")
            let summary = try #require(
                try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(directory)/s.json"))) as? [String: Any])
            Self.expectBalanced(summary)
            #expect((summary["malformed"] as? [String: Int])?["bad_timestamp"] == 2, "\(summary)")
            #expect(summary["parsed"] as? Int == 65)
            #expect(summary["first_minute"] as? String == "0000-01-01T00:00Z" && summary["last_minute"] as? String == "3999-12-31T23:59Z")
            let buckets = try String(contentsOfFile: "\(directory)/b.csv", encoding: .utf8)
            #expect(buckets.contains("\n0000-01-01T00:00Z,") && buckets.contains("\n3999-12-31T23:59Z,"))
            #expect(try Support.run(["detect", "\(directory)/b.csv"]).status == 0)
        }
        // The same inputs a run at a time into one state, in orders that add earlier minutes.
        for order in [["last.log", "between.log", "first.log"], ["first.log", "last.log", "between.log"]] {
            let state = "\(directory)/\(order[0]).state"
            for name in order + [order[0]] {
                let result = try Support.run(["--quiet", "--state", state, "\(directory)/\(name)"] + outputs, timeLimit: 120)
                #expect(result.status == 0, "\(order) \(name): \(result.stderr.suffix(1_000))")
            }
            let described = try Support.run(["state", state])
            #expect(described.status == 0 && described.stdout.contains("0000-01-01"), "\(described.stdout)")
        }
    }
}

/// Every corrupt database of the conformance set, and truncated copies of valid ones, given
/// to `--geoip`: an error at open (status 2, naming the file) or a run whose lookups answer `--`
/// where the data is broken; never a crash or a hang.
@Suite(
    .tags(.launchesBinary),
    .enabled(
        if: Support.executable != nil && sharedPath("mmdb-conformance") != nil,
        "needs the logsurge executable and ../shared/mmdb-conformance"))
struct HostileDatabaseCLITests {
    static let root = sharedPath("mmdb-conformance")

    /// Paths relative to the conformance root: bad-data, and the broken test databases.
    static let corrupt: [String] = {
        guard let root, let walker = FileManager.default.enumerator(atPath: root) else { return [] }
        var found: [String] = []
        while let relative = walker.nextObject() as? String {
            guard relative.hasSuffix(".mmdb") else { continue }
            if relative.hasPrefix("bad-data/") || relative.contains("-broken-") || relative.contains("-Broken-")
                || relative.contains("Invalid-Node-Count")
            {
                found.append(relative)
            }
        }
        return found.sorted()
    }()

    /// Valid databases cut short: (name, length).
    static let truncated: [(String, Int)] = {
        guard let root else { return [] }
        var cuts: [(String, Int)] = []
        for name in [
            "GeoIP2-Country-Test.mmdb", "GeoLite2-City-Test.mmdb", "MaxMind-DB-test-mixed-24.mmdb",
            "MaxMind-DB-test-ipv6-32.mmdb", "MaxMind-DB-test-metadata-pointers.mmdb",
        ] {
            let size = (try? FileManager.default.attributesOfItem(atPath: root + "/test-data/" + name)[.size] as? Int) ?? 0
            for length in Set([0, 1, size / 3, size / 2, size - 40, size - 1]) where length >= 0 && length < size {
                cuts.append(("test-data/" + name, length))
            }
        }
        return cuts.sorted { ($0.0, $0.1) < ($1.0, $1.1) }
    }()

    /// Clients in the networks the test databases know, IPv4, IPv6 and mapped.
    static let log: String = {
        let clients = [
            "81.2.69.160", "216.160.83.56", "89.160.20.112", "1.1.1.1", "175.16.199.1", "67.43.156.1",
            "202.196.224.1", "2001:218::1", "2001:480::1", "2a02:d500::1", "::1.1.1.1", "::ffff:81.2.69.160",
            "8.8.8.8", "10.0.0.1",
        ]
        return clients.enumerated().map { index, client in
            "\(client) - - [09/Nov/2016:02:\(30 + index % 3):00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"x\"\n"
        }.joined()
    }()

    /// Runs analyze with `database`; checks the outcome is one of the two allowed.
    static func expectErrorOrAnswers(_ database: String, _ comment: Comment) throws {
        let result = try Support.run(
            ["--geoip", database, "--threads", "2", "--quiet", "--summary", "-", "--buckets", "/dev/stderr", "-"],
            stdin: Array(log.utf8), timeLimit: 60)
        #expect(!result.timedOut, comment)
        if result.status == 2 {
            #expect(result.stderr.hasPrefix("logsurge: error: cannot use GeoIP database: "), comment)
            #expect(result.stderr.contains(database), comment)
            #expect(result.stdout.isEmpty, comment)
            return
        }
        #expect(result.status == 0, "\(comment): \(result.stderr.prefix(400))")
        let summary = try HostileCLITests.summary(result)
        #expect(summary["parsed"] as? Int == 14, comment)
        HostileCLITests.expectBalanced(summary)
        // Every country is two letters or `--`.
        for row in result.stderr.split(separator: "\n").dropFirst() {
            let country = row.split(separator: ",")[2]
            #expect(country == "--" || (country.count == 2 && country.allSatisfy { $0.isUppercase }), comment)
        }
    }

    @Test("a corrupt database", arguments: corrupt)
    func corruptDatabase(relative: String) throws {
        try Self.expectErrorOrAnswers(Self.root! + "/" + relative, Comment(rawValue: relative))
    }

    @Test("a valid database cut short", arguments: truncated)
    func truncatedDatabase(relative: String, length: Int) throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: Self.root! + "/" + relative)).prefix(length)
        let path = Support.temporaryDirectory().appendingPathComponent("cut-\(length).mmdb").path
        try Support.writeFile(path, bytes)
        try Self.expectErrorOrAnswers(path, Comment(rawValue: "\(relative) cut to \(length) bytes"))
    }

    @Test("the corrupt set is all there")
    func inventory() {
        #expect(Self.corrupt.count >= 25)
        #expect(Self.truncated.count >= 25)
    }
}

/// Outputs that fail: a full disk, a file size limit, a closed pipe.
@Suite(.tags(.launchesBinary), .enabled(if: Support.executable != nil, "the logsurge executable is not built"))
struct FailingOutputCLITests {
    /// Three hours of traffic with an error spike and a surge (alerts are written only when
    /// raised), and buckets far longer than a pipe holds.
    static let log: String = {
        let path = Support.temporaryDirectory().appendingPathComponent("alerting.log").path
        let result = try! Support.run([
            "generate", "--minutes", "180", "--rate", "60", "--seed", "3", "--output", path,
            "--event", "errors:0.5:2016-11-01T02:00Z:20", "--event", "surge:US:30:2016-11-01T02:30Z:30",
        ])
        precondition(result.status == 0, result.stderr)
        return path
    }()

    @Test(
        "a full disk is a clear error naming the output, status 1",
        .enabled(if: FileManager.default.fileExists(atPath: "/dev/full"), "no /dev/full"),
        arguments: ["--buckets", "--summary", "--alerts", "report"])
    func fullDisk(output: String) throws {
        let log = Self.log
        let result =
            output == "report"
            ? try Support.run(["--threads", "2", log], shell: "exec \"$0\" \"$@\" > /dev/full", timeLimit: 120)
            : try Support.run(["--threads", "2", "--quiet", output, "/dev/full", log], timeLimit: 120)
        #expect(result.status == 1)
        let name = output == "report" ? "standard output" : "/dev/full"
        #expect(result.stderr == "logsurge: error: cannot write \(name): No space left on device\n")
    }

    @Test("an output past the file size limit is an error, and the file it replaces is left as it was")
    func fileSizeLimit() throws {
        let directory = Support.temporaryDirectory()
        let path = directory.appendingPathComponent("buckets.csv").path
        try Support.writeFile(path, Data("the previous run's buckets\n".utf8))
        // 16 blocks of 512 bytes: the buckets of three hours are far longer.
        let result = try Support.run(
            ["--threads", "2", "--quiet", "--buckets", path, Self.log],
            shell: "ulimit -f 16 && exec \"$0\" \"$@\"", timeLimit: 120)
        #expect(result.status == 1)
        #expect(result.stderr == "logsurge: error: cannot write \(path): File too large\n")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "the previous run's buckets\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["buckets.csv"])
    }

    @Test("a link planted where a temporary output would go changes nothing; a replaced file keeps its mode")
    func plantedLinkAndMode() throws {
        let directory = Support.temporaryDirectory()
        let victim = directory.appendingPathComponent("victim").path
        try Support.writeFile(victim, Data("precious\n".utf8))
        let path = directory.appendingPathComponent("summary.json").path
        try Support.writeFile(path, Data("{}\n".utf8))
        chmod(path, 0o600)
        // The old temporary name, guessable from the process ID: links for the next few IDs.
        for offset in 0..<64 {
            try? FileManager.default.createSymbolicLink(
                atPath: "\(path).tmp-logsurge-\(Int(getpid()) + offset)", withDestinationPath: victim)
        }
        let result = try Support.run(["--quiet", "--summary", path, Self.log])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious\n")
        var status = stat()
        #expect(stat(path, &status) == 0 && status.st_mode & 0o777 == 0o600)
        #expect(try String(contentsOfFile: path, encoding: .utf8).contains("\"lines\""))
        // No temporary file is left beside it.
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: directory.path).filter {
                $0.contains("logsurge-") && !$0.hasPrefix("summary.json.tmp-logsurge-")
            }.isEmpty)
    }

    @Test("--threads 1024 ends (no worker starves the reader), capped at 4 per processor, said on standard error")
    func manyThreads() throws {
        let oneLine = Support.temporaryDirectory().appendingPathComponent("one.log").path
        try Support.writeFile(
            oneLine, Data(#"81.2.69.142 - - [09/Nov/2016:02:31:05 +0000] "GET / HTTP/1.1" 200 5 "-" "curl""#.utf8 + [0x0A]))
        for threads in [300, 1024] {
            let result = try Support.run(["--threads", "\(threads)", "--summary", "-", oneLine], timeLimit: 60)
            #expect(result.status == 0, "\(result.stderr)")
            let summary = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
            let workers = max(8, 4 * ProcessInfo.processInfo.activeProcessorCount)
            #expect(summary?["threads"] as? Int == min(threads, workers))
            if threads > workers {
                #expect(result.stderr.contains("--threads \(threads): \(workers) parse workers run"), "\(result.stderr)")
            }
        }
    }

    @Test("an output that is an input, or one file named for two outputs, is a usage error before reading")
    func outputIsInput() throws {
        let directory = Support.temporaryDirectory()
        let log = directory.appendingPathComponent("access.log").path
        try FileManager.default.copyItem(atPath: Self.log, toPath: log)
        let before = try Data(contentsOf: URL(fileURLWithPath: log))
        let link = directory.appendingPathComponent("link.csv").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: log)
        for arguments in [
            ["--buckets", log, log], ["--summary", link, log], ["--html", "\(directory.path)/./access.log", directory.path],
        ] {
            let result = try Support.run(["--quiet"] + arguments)
            #expect(result.status == 2, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains("is also an input") || result.stderr.contains("inside the input directory"), "\(result.stderr)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: log)) == before)
        let out = directory.appendingPathComponent("out.csv").path
        let twice = try Support.run(["--quiet", "--buckets", out, "--summary", "\(directory.path)/./out.csv", log])
        #expect(twice.status == 2 && twice.stderr.contains("named for two outputs"), "\(twice.stderr)")
        // Devices are not files to protect: /dev/null may take every output.
        let null = try Support.run(["--quiet", "--buckets", "/dev/null", "--summary", "/dev/null", log])
        #expect(null.status == 0, "\(null.stderr)")
    }

    @Test(
        "a symbolic link another user planted at an output's name is not written through", .enabled(if: geteuid() == 0, "lchown needs root")
    )
    func foreignLink() throws {
        let directory = Support.temporaryDirectory()
        let victim = directory.appendingPathComponent("victim").path
        try Support.writeFile(victim, Data("root:secret\n".utf8))
        let link = directory.appendingPathComponent("report.csv").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: victim)
        #expect(lchown(link, 65534, 65534) == 0)
        let result = try Support.run(["--quiet", "--buckets", link, Self.log])
        #expect(result.status == 2 && result.stderr.contains("owned by another user"), "\(result.stderr)")
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "root:secret\n")
        // The user's own link is written through, as before.
        #expect(lchown(link, 0, 0) == 0)
        #expect(try Support.run(["--quiet", "--buckets", link, Self.log]).status == 0)
        #expect(try String(contentsOfFile: victim, encoding: .utf8).hasPrefix("minute,"))
    }

    @Test(
        "outputs that meet in one file through links, .. or standard input are refused; the run's own files in a log directory are not logs"
    )
    func outputSpellings() throws {
        let directory = Support.temporaryDirectory()
        let path = directory.path
        try FileManager.default.createDirectory(atPath: "\(path)/other/sub", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: "\(path)/lnk", withDestinationPath: "\(path)/other/sub")
        try FileManager.default.createSymbolicLink(atPath: "\(path)/d1", withDestinationPath: "target.csv")
        try FileManager.default.createSymbolicLink(atPath: "\(path)/d2", withDestinationPath: "target.csv")
        for pair in [
            ["\(path)/other/o.csv", "\(path)/lnk/../o.csv"], ["\(path)/d1", "\(path)/d2"], ["\(path)/d1", "\(path)/target.csv"],
        ] {
            let result = try Support.run(["--quiet", "--buckets", pair[0], "--summary", pair[1], Self.log])
            #expect(result.status == 2 && result.stderr.contains("named for two outputs"), "\(pair): \(result.stderr)")
        }
        // Standard input redirected from the file named as an output.
        let copy = "\(path)/stdin.log"
        try FileManager.default.copyItem(atPath: Self.log, toPath: copy)
        let piped = try Support.run(["--quiet", "--buckets", copy, "-"], shell: "exec \"$0\" \"$@\" < '\(copy)'")
        #expect(piped.status == 2 && piped.stderr.contains("also an input (standard input)"), "\(piped.stderr)")
        // A state file or an output kept in the log directory: refused, the same way every night.
        let logs = "\(path)/logs"
        try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.log, toPath: "\(logs)/access.log")
        for arguments in [
            ["--state", "\(logs)/state.db"], ["--buckets", "\(logs)/buckets.csv"], ["--summary", "\(path)/lnk/../../logs/s.json"],
        ] {
            for night in 1...2 {
                let result = try Support.run(["--quiet"] + arguments + [logs])
                #expect(
                    result.status == 2 && result.stderr.contains("inside the input directory"),
                    "\(arguments) night \(night): \(result.stderr)")
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: logs) == ["access.log"])
        // detect refuses to replace its input too.
        let buckets = "\(path)/b.csv"
        _ = try Support.run(["--quiet", "--buckets", buckets, Self.log])
        let detect = try Support.run(["detect", "--alerts", buckets, buckets])
        #expect(detect.status == 2 && detect.stderr.contains("also an input"), "\(detect.stderr)")
    }

    @Test(
        "an output in a directory that cannot be written is a usage error before any input is read",
        .enabled(if: geteuid() != 0, "root writes into any directory"))
    func readOnlyDirectory() throws {
        let directory = Support.temporaryDirectory()
        chmod(directory.path, 0o500)
        defer { chmod(directory.path, 0o700) }
        let path = directory.appendingPathComponent("summary.json").path
        let result = try Support.run(["--summary", path, "-"], stdin: Array("not read\n".utf8))
        #expect(result.status == 2)
        #expect(result.stderr == "logsurge: error: cannot write \(path): Permission denied\n")
    }

    /// Runs the executable with standard output into a pipe that is closed after `keep` bytes.
    static func runIntoClosedPipe(_ arguments: [String], keep: Int) throws -> (status: Int32, stderr: String) {
        Support.ignoreBrokenPipes()
        let process = Process()
        process.executableURL = Support.executable!
        process.arguments = arguments
        let output = Pipe(), error = Pipe()
        process.standardOutput = output
        process.standardError = error
        process.standardInput = FileHandle.nullDevice
        try process.run()
        var kept = 0
        while kept < keep {
            let data = output.fileHandleForReading.readData(ofLength: keep - kept)
            if data.isEmpty { break }
            kept += data.count
        }
        try output.fileHandleForReading.close()
        let errors = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: errors, as: UTF8.self))
    }

    @Test(
        "analyze into a closed pipe ends quietly, whichever output was on it",
        arguments: [["--buckets", "-", "--quiet"], ["--buckets", "-"], ["--summary", "-"], []])
    func closedPipe(options: [String]) throws {
        let result = try Self.runIntoClosedPipe(["--threads", "2"] + options + [Self.log], keep: 10)
        #expect(result.status == 0)
        #expect(!result.stderr.localizedCaseInsensitiveContains("error"))
        #expect(!result.stderr.contains("Fatal"))
        // The report goes to standard error only when an output took standard output.
        if options.isEmpty || options.contains("--quiet") { #expect(result.stderr.isEmpty) }
    }
}

/// A batch run ended by a signal (a cron job's timeout, an operator's Ctrl-C).
@Suite(.tags(.launchesBinary), .enabled(if: Support.executable != nil, "the logsurge executable is not built"))
struct KilledBatchRunCLITests {
    @Test("a batch run killed by SIGTERM, SIGINT or SIGHUP leaves no temporary output behind", arguments: [SIGTERM, SIGINT, SIGHUP])
    func noTemporaryFilesLeft(signal: Int32) throws {
        let directory = Support.temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // An input that never ends while the test holds it open: the run is still reading.
        let fifo = directory + "/access.log"
        try #require(mkfifo(fifo, 0o600) == 0)
        let writer = open(fifo, O_RDWR)
        try #require(writer >= 0)
        defer { close(writer) }
        let line = "8.8.8.8 - - [09/Nov/2016:02:30:00 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"t\"\n"
        _ = Array(line.utf8).withUnsafeBytes { write(writer, $0.baseAddress, $0.count) }

        let outputs = directory + "/out"
        try FileManager.default.createDirectory(atPath: outputs, withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = Support.executable!
        process.arguments = [
            "--quiet", "--summary", outputs + "/summary.json", "--buckets", outputs + "/buckets.csv",
            "--alerts", outputs + "/alerts.jsonl", fifo,
        ]
        process.standardError = FileHandle.nullDevice
        try Support.launch(process)
        defer { if process.isRunning { process.terminate() } }
        func listed() -> [String] { (try? FileManager.default.contentsOfDirectory(atPath: outputs)) ?? [] }
        // Its outputs are open (as temporary files) before it reads.
        #expect(Support.eventually { listed().contains { $0.contains(".tmp-logsurge-") } }, "\(listed())")
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal && process.terminationStatus == signal)
        #expect(listed().isEmpty, "\(listed())")
    }
}
