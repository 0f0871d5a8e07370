import Foundation
import LogSurgeInput
import Testing

@Suite("input discovery")
struct InputDiscoveryTests {
    /// The reading order of `names` placed in a fresh directory, as names.
    func order(_ names: [String], extra: (TemporaryDirectory) throws -> Void = { _ in }) throws -> [String] {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        for name in names { try directory.write(name, Array("\(name)\n".utf8)) }
        try extra(directory)
        return try InputDiscovery.expand([directory.path]).map { result in
            let source = try result.get()
            guard case .file(let path) = source else { throw CocoaError(.fileReadUnknown) }
            #expect(path.hasPrefix(directory.path + "/"))
            return String(path.dropFirst(directory.path.count + 1))
        }
    }

    @Test("numbered rotations are read oldest first, then the live file")
    func numbered() throws {
        let names = ["access.log", "access.log.1", "access.log.2.gz", "access.log.3.gz", "access.log.10.gz", "access.log.9.gz"]
        #expect(
            try order(names.shuffled()) == [
                "access.log.10.gz", "access.log.9.gz", "access.log.3.gz", "access.log.2.gz", "access.log.1", "access.log",
            ])
    }

    @Test("date-suffixed rotations are read in date order; groups in name order")
    func dated() throws {
        let names = [
            "other.log", "other.log-20240102.gz", "other.log-20231231", "other.log-20240101.gz", "access.log", "access.log.1", "zeta",
        ]
        #expect(
            try order(names.shuffled()) == [
                "access.log.1", "access.log",
                "other.log-20231231", "other.log-20240101.gz", "other.log-20240102.gz", "other.log",
                "zeta",
            ])
    }

    @Test("hidden files, error logs and subdirectories are skipped")
    func skipped() throws {
        let names = ["access.log", ".hidden.log", "error.log", "error.log.1", "ssl_Error_log.2.gz", "site-access.log"]
        let result = try order(names) { directory in
            try FileManager.default.createDirectory(atPath: directory.file("archive"), withIntermediateDirectories: false)
            try directory.write("archive/access.log.1", Array("x\n".utf8))
        }
        #expect(result == ["access.log", "site-access.log"])
    }

    @Test("paths keep their order; - is standard input; a missing path is an error in its place")
    func mixedPaths() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = try directory.write("single.log", Array("x\n".utf8))
        let sub = directory.file("logs")
        try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: false)
        try TemporaryDirectory.write(at: sub + "/b.log", [])
        try TemporaryDirectory.write(at: sub + "/b.log.1", [])
        let missing = directory.file("missing")
        let results = InputDiscovery.expand(["-", missing, sub + "/", file])
        #expect(results.count == 5)
        #expect(try results[0].get() == .standardInput)
        #expect(throws: InputError(path: missing, offset: nil, message: "No such file or directory")) { try results[1].get() }
        #expect(try results[2].get() == .file(sub + "/b.log.1"))
        #expect(try results[3].get() == .file(sub + "/b.log"))
        #expect(try results[4].get() == .file(file))
    }

    @Test("a directory without an access log is an error that says so")
    func emptyDirectory() throws {
        for names in [[], [".hidden.log", "error.log", "ssl_error_log.1"]] {
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            for name in names { try directory.write(name, Array("x\n".utf8)) }
            try FileManager.default.createDirectory(atPath: directory.file("sub"), withIntermediateDirectories: false)
            let results = InputDiscovery.expand([directory.path])
            #expect(results.count == 1)
            guard case .failure(let error) = results.first else {
                Issue.record("no error for a directory of \(names)")
                continue
            }
            #expect(error.path == directory.path && error.offset == nil && error.message.contains("no access log"))
        }
    }

    @Test("an unreadable directory is an error", .enabled(if: geteuid() != 0, "root reads every directory"))
    func unreadable() throws {
        let directory = try TemporaryDirectory()
        defer {
            chmod(directory.file("locked"), 0o700)
            directory.remove()
        }
        let locked = directory.file("locked")
        try FileManager.default.createDirectory(atPath: locked, withIntermediateDirectories: false)
        chmod(locked, 0)
        let results = InputDiscovery.expand([locked])
        #expect(results.count == 1)
        #expect(throws: InputError.self) { try results[0].get() }
    }

    @Test("a file whose name is not UTF-8 is read by its bytes, shown with them as \\xHH; one shown as another file's name is marked")
    func nameNotUTF8() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("ok.log", Array("x\n".utf8))
        // "acc\xFFess.log": Latin-1 or damaged bytes, as some file systems hold.
        func create(_ bytes: [UInt8], _ content: String) {
            let raw = (Array("\(directory.path)/".utf8) + bytes + [0]).map { CChar(bitPattern: $0) }
            let fd = open(raw, O_WRONLY | O_CREAT | O_EXCL, 0o644)
            #expect(fd >= 0)
            _ = content.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }
            close(fd)
        }
        create(Array("acc".utf8) + [0xFF] + Array("ess.log".utf8), "y\n")
        var found = InputDiscovery.expand([directory.path])
        #expect(found.count == 2)
        let shown = directory.path + "/acc\\xFFess.log"
        #expect((try? found[0].get()) == .file(shown))
        #expect((try? found[1].get()) == .file(directory.file("ok.log")))
        // Opened by its bytes wherever inputs are opened.
        let fd = SystemPath.open(shown, O_RDONLY)
        #expect(fd >= 0)
        var buffer = [UInt8](repeating: 0, count: 8)
        #expect(read(fd, &buffer, 8) == 2 && buffer[0] == UInt8(ascii: "y"))
        close(fd)

        // Names not UTF-8 that differ are shown differently and opened each by its bytes: a
        // backslash of the name is shown doubled; é composed and é decomposed are two names.
        try FileManager.default.createDirectory(atPath: directory.path + "/twins", withIntermediateDirectories: false)
        let twins: [[UInt8]] = [
            Array("a".utf8) + [0xE9, 0xFF], Array("a\\xE9".utf8) + [0xFF],
            Array("caf\u{E9}".utf8) + [0xFF], Array("cafe\u{301}".utf8) + [0xFF],
        ]
        for (index, name) in twins.enumerated() { create(Array("twins/".utf8) + name + Array(".log".utf8), "\(index)\n") }
        let twinPaths = InputDiscovery.expand([directory.path + "/twins"]).compactMap {
            if case .success(.file(let path)) = $0 { path } else { nil }
        }
        #expect(twinPaths.count == 4 && Set(twinPaths.map { Array($0.utf8) }).count == 4, "\(twinPaths)")
        var contents: [UInt8] = []
        for path in twinPaths {
            let fd = SystemPath.open(path, O_RDONLY)
            var byte: UInt8 = 0
            #expect(fd >= 0 && read(fd, &byte, 1) == 1, "\(path)")
            contents.append(byte)
            close(fd)
        }
        #expect(Set(contents) == Set("0123".utf8), "each twin read as itself: \(twinPaths)")

        // A file literally named as the other is shown: the one not UTF-8 is marked, and read;
        // with the marked name taken too, it is said, not confused.
        create(Array("acc\\xFFess.log".utf8), "z\n")
        found = InputDiscovery.expand([directory.path])
        #expect(found.count == 3)
        #expect(found.contains { (try? $0.get()) == .file(shown + " (not UTF-8)") }, "\(found)")
        let marked = SystemPath.open(shown + " (not UTF-8)", O_RDONLY)
        #expect(marked >= 0 && read(marked, &buffer, 8) == 2 && buffer[0] == UInt8(ascii: "y"))
        close(marked)
        create(Array("acc\\xFFess.log (not UTF-8)".utf8), "w\n")
        found = InputDiscovery.expand([directory.path])
        let errors = found.compactMap { if case .failure(let error) = $0 { error } else { nil } }
        #expect(errors.count == 1 && errors.first?.path == shown && errors.first?.message.contains("not UTF-8") == true)
    }
}
