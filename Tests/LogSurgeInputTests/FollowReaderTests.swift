import Foundation
import LogSurgeInput
import Synchronization
import Testing

/// A `FollowReader` running on another thread, with what it has emitted so far.
private final class Following: Sendable {
    private let state = Mutex<(chunks: [LineChunk], result: (InputStats, InputError?)?)>(([], nil))
    private let stopping = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)

    init(_ paths: [String], maxLineLength: Int = 1 << 20, rotateWait: Double = 0.2) {
        var reader = InputReader(targetChunkSize: 4096, maxLineLength: maxLineLength, readSize: 1024)
        reader.followPollInterval = 0.005
        reader.followRotateWait = rotateWait
        let follower = FollowReader(paths: paths, reader: reader)
        Thread {
            let result = follower.read(shouldStop: { self.stopping.load(ordering: .relaxed) }) { chunk in
                self.state.withLock { $0.chunks.append(chunk) }
            }
            self.state.withLock { $0.result = result }
            self.done.signal()
        }.start()
    }

    /// The lines emitted so far, as text.
    var lines: [String] {
        state.withLock { state in chunkLines(state.chunks).map { String(decoding: $0, as: UTF8.self) } }
    }

    var overlongLines: Int { state.withLock { $0.chunks.reduce(0) { $0 + $1.overlongLines } } }

    /// Waits (up to 20 s) until `count` lines have been emitted; whether they were.
    @discardableResult
    func waitFor(lines count: Int) -> Bool {
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if lines.count >= count { return true }
            Thread.sleep(forTimeInterval: 0.005)
        }
        return false
    }

    /// Stops the reader and waits for it to end.
    func stop() -> (lines: [String], stats: InputStats, error: InputError?) {
        stopping.store(true, ordering: .relaxed)
        done.wait()
        let result = state.withLock { $0.result! }
        return (lines, result.0, result.1)
    }
}

private func numbered(_ range: Range<Int>, prefix: String = "line") -> String {
    range.map { "\(prefix) \($0)\n" }.joined()
}

private func append(_ text: String, to path: String) throws {
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    try handle.seekToEnd()
    try handle.write(contentsOf: Data(text.utf8))
    try handle.close()
}

@Suite("Following files as they grow")
struct FollowReaderTests {
    @Test("lines appended after the start are read, and a partial line waits for its end")
    func growth() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write("access.log", Array(numbered(0..<10).utf8))
        let following = Following([path])
        #expect(following.waitFor(lines: 10))
        try append(numbered(10..<20) + "line 2", to: path)
        #expect(following.waitFor(lines: 20))
        Thread.sleep(forTimeInterval: 0.05)
        #expect(following.lines.count == 20, "the partial line is held")
        try append("0\n", to: path)
        #expect(following.waitFor(lines: 21))
        let (lines, stats, error) = following.stop()
        #expect(lines == (0..<21).map { "line \($0)" })
        #expect(error == nil)
        #expect(stats.bytesRead == Int64(numbered(0..<21).utf8.count))
    }

    @Test("rotation by rename: the old file is read to its end, the new one from its start")
    func renameRotation() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write("access.log", Array(numbered(0..<5).utf8))
        let following = Following([path])
        #expect(following.waitFor(lines: 5))
        try FileManager.default.moveItem(atPath: path, toPath: directory.file("access.log.1"))
        // The server still writes to the renamed file until it reopens its log, mid-line even.
        try append(numbered(5..<8) + "line 8 unfinished", to: directory.file("access.log.1"))
        try directory.write("access.log", Array(numbered(9..<12).utf8))
        #expect(following.waitFor(lines: 12))
        try append(numbered(12..<14), to: path)
        #expect(following.waitFor(lines: 14))
        let (lines, _, error) = following.stop()
        // Each file's lines in order; the old file's unfinished line ends once it is quiet.
        #expect(lines.filter { Int($0.split(separator: " ")[1])! < 9 } == (0..<8).map { "line \($0)" } + ["line 8 unfinished"])
        #expect(lines.filter { Int($0.split(separator: " ")[1])! >= 9 } == (9..<14).map { "line \($0)" })
        #expect(error == nil)
    }

    @Test("lines written to the renamed file after the switch are read, until it has been quiet a while")
    func writesAfterTheSwitch() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write("access.log", Array(numbered(0..<5).utf8))
        let old = directory.file("access.log.1")
        let following = Following([path], rotateWait: 1)
        #expect(following.waitFor(lines: 5))
        try FileManager.default.moveItem(atPath: path, toPath: old)
        try directory.write("access.log", Array(numbered(0..<3, prefix: "new").utf8))
        #expect(following.waitFor(lines: 8), "the new file is read")
        // nginx has not reopened its log yet: it writes to the renamed file, in pieces.
        for batch in 0..<5 {
            try append(numbered((5 + batch * 10)..<(15 + batch * 10)), to: old)
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect(following.waitFor(lines: 58))
        // Quiet for longer than the wait: let go; a write after that is not read.
        Thread.sleep(forTimeInterval: 1.5)
        try append(numbered(100..<101), to: old)
        Thread.sleep(forTimeInterval: 0.2)
        let (lines, _, error) = following.stop()
        #expect(lines.filter { $0.hasPrefix("line") } == (0..<55).map { "line \($0)" })
        #expect(lines.filter { $0.hasPrefix("new") } == (0..<3).map { "new \($0)" })
        #expect(error == nil)
    }

    @Test("copytruncate where the file grows past the old size between two looks is read from its start")
    func copyTruncateRegrown() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write("access.log", Array(numbered(0..<3).utf8))
        // Polling slowly, so that the truncation and the regrowth fall between two looks.
        var reader = InputReader(targetChunkSize: 4096, readSize: 1024)
        reader.followPollInterval = 0.5
        let follower = FollowReader(paths: [path], reader: reader)
        let collected = Mutex<[LineChunk]>([])
        let stopping = Atomic<Bool>(false)
        let done = DispatchSemaphore(value: 0)
        Thread {
            _ = follower.read(shouldStop: { stopping.load(ordering: .relaxed) }) { chunk in collected.withLock { $0.append(chunk) } }
            done.signal()
        }.start()
        Thread.sleep(forTimeInterval: 0.25)
        // Truncated, then more written than the file held before, all within one interval.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: 0)
        try handle.close()
        try append(numbered(0..<40, prefix: "after"), to: path)
        Thread.sleep(forTimeInterval: 1.2)
        stopping.store(true, ordering: .relaxed)
        done.wait()
        let lines = collected.withLock { chunkLines($0).map { String(decoding: $0, as: UTF8.self) } }
        #expect(lines == (0..<3).map { "line \($0)" } + (0..<40).map { "after \($0)" })
    }

    @Test("a path that is for a while a directory, or a FIFO, is waited for without blocking")
    func notARegularFileForAWhile() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("access.log")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        let following = Following([path])
        Thread.sleep(forTimeInterval: 0.05)
        try FileManager.default.removeItem(atPath: path)
        #expect(mkfifo(path, 0o644) == 0)
        Thread.sleep(forTimeInterval: 0.05)
        try FileManager.default.removeItem(atPath: path)
        try directory.write("access.log", Array(numbered(0..<4).utf8))
        #expect(following.waitFor(lines: 4))
        let (lines, _, error) = following.stop()
        #expect(lines == (0..<4).map { "line \($0)" })
        #expect(error == nil)
    }

    @Test("copytruncate: a file that shrinks is read again from its start")
    func copyTruncate() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write("access.log", Array(numbered(0..<30).utf8))
        let following = Following([path])
        #expect(following.waitFor(lines: 30))
        // Truncate in place, then the server appends (with O_APPEND) from the start.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: 0)
        try handle.close()
        try append(numbered(30..<33), to: path)
        #expect(following.waitFor(lines: 33))
        let (lines, _, error) = following.stop()
        #expect(lines == (0..<33).map { "line \($0)" })
        #expect(error == nil)
    }

    @Test("a file that disappears and comes back, and one that appears only later, are read")
    func disappearsAndReturns() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write("access.log", Array(numbered(0..<3).utf8))
        let later = directory.file("later.log")
        let following = Following([path, later])
        #expect(following.waitFor(lines: 3))
        try FileManager.default.removeItem(atPath: path)
        Thread.sleep(forTimeInterval: 0.05)
        try directory.write("access.log", Array(numbered(3..<6).utf8))
        #expect(following.waitFor(lines: 6))
        try directory.write("later.log", Array(numbered(0..<2, prefix: "later").utf8))
        #expect(following.waitFor(lines: 8))
        let (lines, _, error) = following.stop()
        #expect(lines.filter { $0.hasPrefix("line") } == (0..<6).map { "line \($0)" })
        #expect(lines.filter { $0.hasPrefix("later") } == ["later 0", "later 1"])
        #expect(error == nil)
    }

    @Test("lines of several files are never mixed, whatever the order of their writes")
    func severalFiles() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let a = try directory.write("a.log", Array("a 0\na 1 par".utf8))
        let b = try directory.write("b.log", Array("b 0\nb 1 par".utf8))
        let following = Following([a, b])
        #expect(following.waitFor(lines: 2))
        try append("t\n", to: b)
        try append("t\n", to: a)
        #expect(following.waitFor(lines: 4))
        let (lines, _, _) = following.stop()
        #expect(lines.sorted() == ["a 0", "a 1 part", "b 0", "b 1 part"])
    }

    @Test("a line longer than the longest kept is counted and skipped, with bounded memory")
    func overlongLine() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write("access.log", Array("before\n".utf8))
        let following = Following([path], maxLineLength: 100)
        #expect(following.waitFor(lines: 1))
        // 10 KB without a newline, written in pieces, then its end and a normal line.
        for _ in 0..<10 { try append(String(repeating: "x", count: 1000), to: path) }
        try append("end of the long line\nafter\n", to: path)
        #expect(following.waitFor(lines: 2))
        let (lines, _, _) = following.stop()
        #expect(lines == ["before", "after"])
        #expect(following.overlongLines == 1)
    }

    @Test("a gzip archive among the paths is read once; a directory and a path that never appears are errors")
    func archivesAndErrors() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let archive = try directory.write("access.log.1.gz", gzip(Array(numbered(0..<4).utf8)))
        let live = try directory.write("access.log", Array(numbered(4..<6).utf8))
        let following = Following([archive, live])
        #expect(following.waitFor(lines: 6))
        let (lines, stats, error) = following.stop()
        #expect(lines == (0..<6).map { "line \($0)" })
        #expect(stats.gzipMembers == 1)
        #expect(error == nil)

        let missing = Following([live, directory.file("never.log")])
        #expect(missing.waitFor(lines: 2))
        #expect(missing.stop().error?.message == "cannot open: not found while followed")

        let notAFile = Following([directory.path])
        #expect(notAFile.stop().error?.message == "not a regular file: cannot be followed")
    }

    @Test("following access.log and access.log.1: after a rotation the file is read on under its new name, not again")
    func followedUnderBothNames() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let live = try directory.write("a.log", Array(numbered(0..<50, prefix: "live").utf8))
        let old = try directory.write("a.log.1", Array(numbered(0..<40, prefix: "old").utf8))
        let following = Following([live, old])
        #expect(following.waitFor(lines: 90))
        try FileManager.default.moveItem(atPath: old, toPath: directory.file("a.log.2"))
        try FileManager.default.moveItem(atPath: live, toPath: old)
        try append(numbered(50..<60, prefix: "live"), to: old)
        try directory.write("a.log", Array(numbered(0..<10, prefix: "new").utf8))
        #expect(following.waitFor(lines: 110))
        Thread.sleep(forTimeInterval: 0.3)
        let (lines, _, error) = following.stop()
        #expect(lines.count == 110, "\(lines.count) lines")
        #expect(lines.filter { $0.hasPrefix("live") } == (0..<60).map { "live \($0)" })
        #expect(error == nil)
    }

    @Test("told to stop while a huge file is being read, the reader ends promptly")
    func stopsWhileDraining() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write("access.log", Array(numbered(0..<5).utf8))
        let following = Following([path])
        #expect(following.waitFor(lines: 5))
        // A sparse 8 GiB (a writer without O_APPEND after a copytruncate leaves one).
        #expect(truncate(path, 8 << 30) == 0)
        Thread.sleep(forTimeInterval: 0.5)
        let started = Date()
        _ = following.stop()
        #expect(Date().timeIntervalSince(started) < 10)
    }
}
